"""Volumes and turnaround per group, from the studies' events (docs/indicators.md).

Two grouped statements: the events of the period counted per group (volumes), and the studies
signed final in the period with their earlier events' moments (each a correlated subquery on the
(study, at) index) reduced to percentiles per group. No row of a study reaches Python."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery

from indicators.aggregates import Percentile, SecondsBetween
from indicators.groups import group_field
from indicators.periods import GroupBy, Period
from indicators.scope import Viewer
from indicators.tables import keyed
from worklists.models import Priority, StudyEvent, StudyStatus

EVENT_READER = "actor__radiologist__id"

# The spans measured, each from the first event of its start to the final signature.
SPANS: dict[str, tuple[str, str]] = {
    "order_to_final": ("ordered_at", "at"),
    "ready_to_final": ("ready_at", "at"),
    "ready_to_opened": ("ready_at", "opened_at"),
    "preliminary_to_final": ("preliminary_at", "at"),
}


def _first(to_status: str, **extra: Any) -> Subquery:
    """The moment of the study's first event into ``to_status``. A MIN over the study's own
    events rather than ORDER BY at LIMIT 1: with the order, SQLite's planner walks the
    (to_status, at) index across every study's events, once per row (quadratic)."""
    return Subquery(
        StudyEvent.objects.filter(study_id=OuterRef("study_id"), to_status=to_status, **extra)
        .order_by()
        .values("study_id")
        .annotate(first=Min("at"))
        .values("first")
    )


def _events(viewer: Viewer | None, period: Period) -> QuerySet[StudyEvent]:
    events = StudyEvent.objects.filter(at__gte=period.start, at__lt=period.end)
    return events if viewer is None else events.filter(viewer.sites_q("study__"))


def _grouped(
    events: QuerySet[StudyEvent], group_by: GroupBy, viewer: Viewer | None
) -> QuerySet[StudyEvent, dict[str, Any]]:
    field = group_field(group_by, study_path="study__", reader_field=EVENT_READER)
    if group_by is GroupBy.READER:
        events = events.filter(actor__radiologist__isnull=False)
        if viewer is not None:
            events = events.filter(viewer.readers_q(EVENT_READER))
    return cast(QuerySet[StudyEvent, dict[str, Any]], events.values(key=F(field)).order_by())


def volumes(viewer: Viewer, period: Period, group_by: GroupBy) -> dict[Any, dict[str, int]]:
    """Per group: studies ordered, signed final, cancelled and returned in the period."""
    events = _events(viewer, period).filter(
        to_status__in=[
            StudyStatus.ORDERED,
            StudyStatus.FINAL,
            StudyStatus.CANCELLED,
            StudyStatus.REJECTED,
        ]
    )
    rows = _grouped(events, group_by, viewer).annotate(
        received=Count(
            "study_id", distinct=True, filter=Q(from_status="", to_status=StudyStatus.ORDERED)
        ),
        reported=Count("study_id", distinct=True, filter=Q(to_status=StudyStatus.FINAL)),
        cancelled=Count("study_id", distinct=True, filter=Q(to_status=StudyStatus.CANCELLED)),
        returned=Count("study_id", distinct=True, filter=Q(to_status=StudyStatus.REJECTED)),
    )
    return keyed(rows)


def turnaround(
    viewer: Viewer | None, period: Period, group_by: GroupBy
) -> dict[Any, dict[str, Any]]:
    """Per group, over the studies signed final in the period: the spans' median and 90th
    percentile in seconds, and how many were signed within their deadline (all priorities, and
    the cancer pathway on its own). ``viewer`` None: every site and reader (the region)."""
    finals = (
        _events(viewer, period)
        .filter(to_status=StudyStatus.FINAL)
        .annotate(
            ordered_at=_first(StudyStatus.ORDERED, from_status=""),
            ready_at=_first(StudyStatus.READY),
            opened_at=_first(StudyStatus.IN_PROGRESS),
            preliminary_at=_first(StudyStatus.PRELIMINARY),
        )
    )
    measures: dict[str, Any] = {}
    for name, (start, end) in SPANS.items():
        seconds = SecondsBetween(F(start), F(end))
        measures[f"{name}_p50"] = Percentile(seconds, 0.5)
        measures[f"{name}_p90"] = Percentile(seconds, 0.9)
    has_deadline = Q(study__deadline__isnull=False)
    within = Q(at__lte=F("study__deadline"))
    cancer = Q(study__priority=Priority.CANCER_PATHWAY)
    rows = _grouped(finals, group_by, viewer).annotate(
        **measures,
        signed=Count("id"),
        with_preliminary=Count("preliminary_at"),
        with_deadline=Count("id", filter=has_deadline),
        within_deadline=Count("id", filter=has_deadline & within),
        cancer_with_deadline=Count("id", filter=has_deadline & cancer),
        cancer_within_deadline=Count("id", filter=has_deadline & within & cancer),
    )
    return keyed(rows)
