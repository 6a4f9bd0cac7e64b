"""Volumes and turnaround per group (docs/indicators.md).

Two grouped statements: the events of the period counted per group (volumes), and the studies
signed final in the period, each one row of its milestones (worklists.StudyMilestones, kept by
the database as events are written), reduced to percentiles per group. No row of a study
reaches Python."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import Count, F, Q, QuerySet

from indicators.aggregates import Percentile, WholeMinutes
from indicators.groups import group_field
from indicators.periods import GroupBy, Period
from indicators.rollup import SPANS, signed_in, turnaround_by
from indicators.scope import Viewer
from indicators.tables import keyed
from worklists.models import Priority, StudyEvent, StudyMilestones, StudyStatus

EVENT_READER = "actor__radiologist__id"
SIGNER = "signed_by__radiologist__id"


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


def volumes(
    viewer: Viewer, period: Period, group_by: GroupBy, *, signed: dict[Any, int]
) -> dict[Any, dict[str, int]]:
    """Per group: studies ordered, signed final, cancelled and returned in the period.

    ``signed``: the studies signed final in the period per group, as ``turnaround`` counts them
    (over the same milestone rows: asked once for the page, docs/indicators.md "Speed"); grouped
    by reader it is not used (the readers' volumes are the events each of them recorded)."""
    if group_by is GroupBy.READER:
        return _volumes_per_reader(viewer, period)
    # From the milestone rows, which carry the study's grouping columns: no join to the study
    # table (docs/indicators.md, "Speed"). Each is a study's one move into the status (FINAL,
    # CANCELLED and REJECTED are terminal; an event that keeps the status is none), so a count
    # of rows is the count of distinct studies the events give.
    ordered, cancelled, returned = (
        Q(**{f"{column}__gte": period.start, f"{column}__lt": period.end})
        for column in ("ordered_at", "cancelled_at", "rejected_at")
    )
    rows = (
        StudyMilestones.objects.filter(ordered | cancelled | returned)
        .filter(viewer.sites_q(""))
        .values(key=F(group_field(group_by, study_path="", reader_field="")))
        .order_by()
        .annotate(
            received=Count("pk", filter=ordered),
            cancelled=Count("pk", filter=cancelled),
            returned=Count("pk", filter=returned),
        )
    )
    found = {key: {**row, "reported": 0} for key, row in keyed(rows).items()}
    for key, count in signed.items():
        none = {"received": 0, "reported": 0, "cancelled": 0, "returned": 0}
        found.setdefault(key, none)["reported"] = count
    return found


def _volumes_per_reader(viewer: Viewer, period: Period) -> dict[Any, dict[str, int]]:
    """Per reader: the events each reader recorded (the ordering, the signature, the
    cancellation, the return), counted as distinct studies."""
    # An event that keeps the status (a patient merge, an order's update) is not a second
    # signature, cancellation or return.
    events = (
        _events(viewer, period)
        .filter(
            to_status__in=[
                StudyStatus.ORDERED,
                StudyStatus.FINAL,
                StudyStatus.CANCELLED,
                StudyStatus.REJECTED,
            ]
        )
        .exclude(from_status=F("to_status"))
    )
    rows = _grouped(events, GroupBy.READER, viewer).annotate(
        received=Count(
            "study_id", distinct=True, filter=Q(from_status="", to_status=StudyStatus.ORDERED)
        ),
        reported=Count("study_id", distinct=True, filter=Q(to_status=StudyStatus.FINAL)),
        cancelled=Count("study_id", distinct=True, filter=Q(to_status=StudyStatus.CANCELLED)),
        returned=Count("study_id", distinct=True, filter=Q(to_status=StudyStatus.REJECTED)),
    )
    return keyed(rows)


def signed_milestones(viewer: Viewer | None, period: Period) -> QuerySet[StudyMilestones]:
    """The studies signed final in the period: their milestones' rows (index on final_at),
    scoped by the site the row carries (a copy of its study's: no join to the study table)."""
    signed = signed_in(period.start, period.end)
    return signed if viewer is None else signed.filter(viewer.sites_q(""))


def signed_grouped(
    signed: QuerySet[StudyMilestones], group_by: GroupBy, viewer: Viewer | None
) -> QuerySet[StudyMilestones, dict[str, Any]]:
    field = group_field(group_by, study_path="", reader_field=SIGNER)
    if group_by is GroupBy.READER:
        signed = signed.filter(signed_by__radiologist__isnull=False)
        if viewer is not None:
            signed = signed.filter(viewer.readers_q(SIGNER))
    return cast(QuerySet[StudyMilestones, dict[str, Any]], signed.values(key=F(field)).order_by())


def turnaround(
    viewer: Viewer | None,
    period: Period,
    group_by: GroupBy,
    *,
    spans: tuple[str, ...] = tuple(SPANS),
) -> dict[Any, dict[str, Any]]:
    """Per group, over the studies signed final in the period: the median and 90th percentile
    in seconds of ``spans`` (default all of SPANS; each span in whole minutes), and how many
    were signed within their deadline (all priorities, and the cancer pathway on its own).
    ``viewer`` None: every site and reader (the region). By site and by priority from the
    closed days kept (indicators.rollup) and the rest of the period's milestone rows; by the
    others each span is a sort of the period's rows: ask only for those shown."""
    if group_by in (GroupBy.SITE, GroupBy.PRIORITY):
        key = group_field(group_by, study_path="", reader_field="")
        return turnaround_by(viewer, period, key, spans)
    measures: dict[str, Any] = {}
    for name in spans:
        start, end = SPANS[name]
        whole = WholeMinutes(F(start), F(end))
        measures[f"{name}_p50"] = Percentile(whole, 0.5)
        measures[f"{name}_p90"] = Percentile(whole, 0.9)
    has_deadline = Q(deadline__isnull=False)
    within = Q(final_at__lte=F("deadline"))
    cancer = Q(priority=Priority.CANCER_PATHWAY)
    rows = signed_grouped(signed_milestones(viewer, period), group_by, viewer).annotate(
        **measures,
        signed=Count("pk"),
        with_preliminary=Count("first_preliminary_at"),
        with_deadline=Count("pk", filter=has_deadline),
        within_deadline=Count("pk", filter=has_deadline & within),
        cancer_with_deadline=Count("pk", filter=has_deadline & cancer),
        cancer_within_deadline=Count("pk", filter=has_deadline & within & cancer),
    )
    found = keyed(rows)
    for row in found.values():
        for name in measures:  # minutes to seconds, as the kept days give them
            row[name] = None if row[name] is None else row[name] * 60
    return found
