"""Reads. Every query that returns studies starts from access.studies_visible_to."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.utils import timezone

from worklists import hooks
from worklists.access import AnyUser, identifiers_visible, is_coordinator, studies_visible_to
from worklists.errors import InvalidInput, NotPermitted, StudyNotFound, StudyWithheld
from worklists.models import (
    UNREAD_STATUSES,
    Assignment,
    Competence,
    CoordinatorAlert,
    Credential,
    PatientIdentifier,
    Radiologist,
    RoutingDecision,
    Shift,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
    SurgeEvent,
    Worklist,
)

STUDY_LIST_FILTERS = ("status", "site", "worklist", "modality", "priority", "unclassified")


class InvalidCursor(InvalidInput, ValueError):
    default_field = "cursor"


@dataclass(frozen=True, slots=True)
class Cursor:
    """A keyset position in the (deadline NULLS LAST, id) order."""

    deadline: dt.datetime | None
    id: int

    def encode(self) -> str:
        payload = {"d": self.deadline.isoformat() if self.deadline else None, "i": self.id}
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
            deadline = dt.datetime.fromisoformat(payload["d"]) if payload["d"] else None
            cursor = cls(deadline=deadline, id=int(payload["i"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise InvalidCursor("the cursor is not one this server handed out") from exc
        if cursor.deadline is not None and cursor.deadline.tzinfo is None:
            raise InvalidCursor("the cursor is not one this server handed out")
        return cursor


def _after_in_order(qs: QuerySet[Study], cursor: Cursor | None, limit: int) -> list[Study]:
    """Up to ``limit`` rows after ``cursor`` in (deadline NULLS LAST, id) order.

    Dated and undated rows are read separately so that each part is one range scan of the
    (…, deadline, id) indexes: a row comparison ``(deadline, id) > (d, i)`` rather than an OR
    of conditions, which PostgreSQL cannot walk an index with.
    """
    rows: list[Study] = []
    if cursor is None or cursor.deadline is not None:
        dated = qs.filter(deadline__isnull=False)
        if cursor is not None:
            dated = dated.filter(
                TupleGreaterThan(Tuple(F("deadline"), F("id")), (cursor.deadline, cursor.id))
            )
        rows = list(dated.order_by("deadline", "id")[:limit])
    if len(rows) < limit:
        undated = qs.filter(deadline__isnull=True)
        if cursor is not None and cursor.deadline is None:
            undated = undated.filter(id__gt=cursor.id)
        rows += list(undated.order_by("id")[: limit - len(rows)])
    return rows


def study_list_filtered(qs: QuerySet[Study], *, filters: Mapping[str, str]) -> QuerySet[Study]:
    """``qs`` narrowed by the list's filters (STUDY_LIST_FILTERS), as the list and its rows use."""
    if filters.get("status"):
        qs = qs.filter(status__in=filters["status"].split(","))
    if filters.get("site"):
        qs = qs.filter(site__code__in=filters["site"].split(","))
    if filters.get("worklist"):
        qs = qs.filter(worklist__code__in=filters["worklist"].split(","))
    if filters.get("modality"):
        qs = qs.filter(modality__in=filters["modality"].split(","))
    if filters.get("priority"):
        qs = qs.filter(priority__in=filters["priority"].split(","))
    if filters.get("unclassified") in ("1", "true", True):
        qs = qs.filter(is_unclassified=True)
    return qs


def study_list(
    *,
    user: AnyUser,
    filters: Mapping[str, str],
    cursor: Cursor | None = None,
    page_size: int = 50,
    visible: QuerySet[Study] | None = None,
) -> tuple[list[Study], Cursor | None]:
    """One page of studies ordered by deadline, and the cursor of the next page (or None).

    Keyset pagination: no COUNT, no OFFSET, so the millionth row costs what the first does.
    ``visible``: studies_visible_to(user), when the caller has resolved it for this request.
    """
    qs = study_list_filtered(
        studies_visible_to(user) if visible is None else visible, filters=filters
    )
    rows = _after_in_order(
        qs.select_related("site", "worklist", "patient", "low_value_rule"), cursor, page_size + 1
    )
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        last = rows[-1]
        next_cursor = Cursor(deadline=last.deadline, id=last.id)
    return rows, next_cursor


def study_get(
    *,
    user: AnyUser,
    study_id: int,
    visible: QuerySet[Study] | None = None,
    withheld_ok: bool = False,
) -> Study:
    """The study if ``user`` may see it; Study.DoesNotExist otherwise (never reveal existence).
    ``visible``: studies_visible_to(user), when the caller has resolved it for this request.
    StudyWithheld when an adapter withholds it from ``user`` for now (worklists.hooks: a blind
    peer review); ``withheld_ok`` for a caller that shows nothing it withholds (a list row)."""
    study = (
        (studies_visible_to(user) if visible is None else visible)
        .select_related("site", "worklist", "patient", "classification_rule", "low_value_rule")
        .get(id=study_id)
    )
    if not withheld_ok and (withheld := hooks.study_withheld(user, study)) is not None:
        raise StudyWithheld(withheld.reason, url=withheld.url)
    return study


def with_visible_identifiers(rows: list[Study], site_ids: set[int] | None) -> list[Study]:
    """Set each study's ``visible_identifiers``: its patient's identifiers that a caller who
    sees ``site_ids`` may see (national numbers and those sites' numbers), by kind; one query
    for all the rows."""
    by_patient: dict[int, list[PatientIdentifier]] = {row.patient_id: [] for row in rows}
    if by_patient:
        identifiers = PatientIdentifier.objects.filter(patient_id__in=by_patient).filter(
            identifiers_visible(site_ids)
        )
        for identifier in identifiers.order_by("kind", "id"):
            by_patient[identifier.patient_id].append(identifier)
    for row in rows:
        row.visible_identifiers = by_patient[row.patient_id]
    return rows


def study_visible(*, user: AnyUser, study_id: int) -> bool:
    return studies_visible_to(user).filter(id=study_id).exists()


def study_active_assignment(*, study: Study) -> Assignment | None:
    return (
        Assignment.objects.filter(study=study, ended_at__isnull=True)
        .select_related("radiologist__user")
        .first()
    )


@dataclass(frozen=True, slots=True)
class WorklistSummary:
    worklist: Worklist
    unread_count: int
    unclassified_count: int
    work_units: Decimal
    oldest_ready_at: dt.datetime | None
    most_urgent_deadline: dt.datetime | None


def worklist_summaries(
    *, user: AnyUser, site_code: str = "", visible: QuerySet[Study] | None = None
) -> list[WorklistSummary]:
    """Each worklist with its unread count, work units, oldest and most urgent study."""
    base = studies_visible_to(user) if visible is None else visible
    qs = base.filter(status__in=UNREAD_STATUSES)
    if site_code:
        qs = qs.filter(site__code=site_code)
    aggregates = {
        row["worklist_id"]: row
        for row in qs.values("worklist_id").annotate(
            unread=Count("id"),
            unclassified=Count("id", filter=Q(is_unclassified=True)),
            units=Sum("work_units"),
            oldest=Min("ready_at"),
            urgent=Min("deadline"),
        )
    }
    summaries = []
    for worklist in Worklist.objects.all():
        row = aggregates.get(worklist.id, {})
        summaries.append(
            WorklistSummary(
                worklist=worklist,
                unread_count=row.get("unread", 0),
                unclassified_count=row.get("unclassified", 0),
                work_units=row.get("units") or Decimal("0"),
                oldest_ready_at=row.get("oldest"),
                most_urgent_deadline=row.get("urgent"),
            )
        )
    return summaries


def study_events(*, study: Study) -> QuerySet[StudyEvent]:
    return study.events.select_related("actor").order_by("at", "id")


def patient_prior_studies(*, user: AnyUser, study: Study, limit: int = 20) -> list[Study]:
    """The patient's other studies at every site the user may see, newest first."""
    return list(
        studies_visible_to(user)
        .filter(patient_id=study.patient_id)
        .exclude(id=study.id)
        .select_related("site")
        .order_by("-ordered_at")[:limit]
    )


# Reading order: the order read next takes studies in (worklists/services/claims.py,
# ``ORDER BY s.routing_rank, s.deadline, s.id``; PostgreSQL puts a missing deadline last).
READING_ORDER = ("routing_rank", F("deadline").asc(nulls_last=True), "id")


def _held_by(visible: QuerySet[Study], radiologist_id: int) -> QuerySet[Study]:
    return visible.filter(
        assignments__radiologist_id=radiologist_id, assignments__ended_at__isnull=True
    ).select_related("site", "worklist", "patient")


def reader_queue(*, visible: QuerySet[Study], radiologist_id: int) -> list[Study]:
    """The studies a radiologist holds now, in reading order."""
    return list(_held_by(visible, radiologist_id).order_by(*READING_ORDER))


def reader_queue_count(*, visible: QuerySet[Study], radiologist_id: int) -> int:
    return _held_by(visible, radiologist_id).count()


def reader_queue_study(
    *, visible: QuerySet[Study], radiologist_id: int, study_id: int
) -> Study | None:
    """``study_id`` if the radiologist holds it now (a row of their queue), else None."""
    return _held_by(visible, radiologist_id).filter(id=study_id).first()


_NO_DEADLINE = 10**13  # milliseconds: after every real deadline


def _deadline_ms(study: Study) -> int:
    return int(study.deadline.timestamp() * 1000) if study.deadline else _NO_DEADLINE


def reading_order_key(study: Study) -> str:
    """A string that sorts like READING_ORDER: where a live page inserts a queue row."""
    return f"{study.routing_rank:03d}.{_deadline_ms(study):014d}.{study.id:012d}"


def task_reading_order_key(task: hooks.ReadingOrderTask) -> str:
    """reading_order_key for a task in the reading order (a peer review): its rank and deadline
    in the same places, then "t" before its id, which sorts after every digit, so that at an
    equal rank and deadline the study comes first (worklists.routing, task_position)."""
    deadline_ms = int(task.deadline.timestamp() * 1000)
    return f"{task.routing_rank:03d}.{deadline_ms:014d}.t{task.id:012d}"


def study_list_order_key(study: Study) -> str:
    """A string that sorts like the list (deadline, missing last, then id)."""
    return f"{_deadline_ms(study):014d}.{study.id:012d}"


@dataclass(frozen=True, slots=True)
class ChangedStudies:
    """What a reconnecting page missed: ``study_ids`` to refetch, or ``full`` (refetch all)."""

    full: bool
    study_ids: list[int]
    at_ms: int


# An event is stamped inside its transaction and may commit (and be broadcast) a little later:
# a resync looks back this much further so that such an event is not missed.
RESYNC_OVERLAP = dt.timedelta(seconds=30)


def studies_changed_since(
    *, user: AnyUser, since_ms: int, now: dt.datetime | None = None
) -> ChangedStudies:
    """The studies ``user`` may see that changed since ``since_ms`` (a live cursor): a lifecycle
    event, or a change of the row itself without one (a new deadline from an AI finding, images
    arriving late), which moves ``updated_at``, or a change an adapter records itself (a review
    assigned or withdrawn: worklists.hooks.changed_studies). ``full`` when the gap is too long
    or too busy to list, or a surge started or ended in it (the notice the client missed)."""
    moment = now or timezone.now()
    at_ms = int(moment.timestamp() * 1000)
    since = dt.datetime.fromtimestamp(since_ms / 1000, tz=dt.UTC)
    if moment - since > dt.timedelta(seconds=settings.LIVE_RESYNC_MAX_SECONDS):
        return ChangedStudies(full=True, study_ids=[], at_ms=at_ms)
    limit = settings.LIVE_RESYNC_MAX_STUDIES
    after = since - RESYNC_OVERLAP
    if SurgeEvent.objects.filter(at__gte=after).exists():
        # A surge started or ended meanwhile: its line is the live region's, no study's.
        return ChangedStudies(full=True, study_ids=[], at_ms=at_ms)
    visible = studies_visible_to(user)
    with_event = set(
        StudyEvent.objects.filter(at__gte=after, study_id__in=visible.values("id"))
        .order_by()
        .values_list("study_id", flat=True)
        .distinct()[: limit + 1]
    )
    touched = set(
        visible.filter(updated_at__gte=after).order_by().values_list("id", flat=True)[: limit + 1]
    )
    ids = with_event | touched | hooks.changed_studies(visible=visible, after=after, limit=limit)
    if len(ids) > limit:
        return ChangedStudies(full=True, study_ids=[], at_ms=at_ms)
    return ChangedStudies(full=False, study_ids=sorted(ids), at_ms=at_ms)


def study_open_alerts(*, study: Study) -> list[CoordinatorAlert]:
    return list(study.coordinator_alerts.filter(resolved_at__isnull=True).order_by("-raised_at"))


def study_routing_decisions(*, user: AnyUser, study_id: int, limit: int) -> list[RoutingDecision]:
    """Why a study went where it went, for coordinators only: NotPermitted for anyone else,
    StudyNotFound for a study the coordinator may not see."""
    if not is_coordinator(user):
        raise NotPermitted("only coordinators see routing decisions")
    try:
        study = study_get(user=user, study_id=study_id)
    except Study.DoesNotExist as exc:
        raise StudyNotFound from exc
    return routing_decisions(study=study, limit=limit)


def routing_decisions(*, study: Study, limit: int = 10) -> list[RoutingDecision]:
    """The decisions that put ``study`` where it went, newest first: the router's and the
    coordinators' rows, and each "read next" claim, whose decision its event carries (shown
    as an unsaved RoutingDecision, without an id)."""
    stored = list(
        RoutingDecision.objects.filter(study=study)
        .select_related("radiologist__user")
        .order_by("-decided_at", "-id")[:limit]
    )
    claims = list(
        StudyEvent.objects.filter(
            study=study, to_status=StudyStatus.ASSIGNED, data__decision=RoutingDecision.READ_NEXT
        ).order_by("-at", "-id")[:limit]
    )
    # a process still running the code from before the fold may have stored the row as well
    stored_pulls = {
        (d.decided_at, d.radiologist_id) for d in stored if d.mode == RoutingDecision.Mode.PULL
    }
    claims = [c for c in claims if (c.at, c.data.get("radiologist_id")) not in stored_pulls]
    readers = Radiologist.objects.select_related("user").in_bulk(
        {event.data.get("radiologist_id") for event in claims}
    )
    read_next = [
        RoutingDecision(
            study=study,
            decided_at=event.at,
            mode=RoutingDecision.Mode.PULL,
            trigger=RoutingDecision.READ_NEXT,
            tier=event.data.get("tier", 0),
            radiologist=readers.get(event.data.get("radiologist_id")),
            trace={
                "chosen": event.data.get("radiologist_id"),
                "bundled": event.data.get("bundled", False),
                "rule": event.data.get("rule", ""),
            },
        )
        for event in claims
    ]
    newest_first = sorted(stored + read_next, key=lambda d: d.decided_at, reverse=True)
    return newest_first[:limit]


def reader_shift_worklists(*, radiologist_id: int, now: dt.datetime) -> dict[int, int]:
    """The worklists the radiologist's shifts running now cover, each with its rank: 0 where
    they read as a primary reader (primary shift and primary competence), 1 as a backup.

    A shift naming no worklists covers every worklist the radiologist is competent in; a
    worklist without competence is not read, whatever the shift says.
    """
    competences = dict(
        Competence.objects.filter(radiologist_id=radiologist_id).values_list("worklist_id", "level")
    )
    covered: dict[int, int] = {}
    for shift in Shift.objects.filter(
        radiologist_id=radiologist_id, starts_at__lte=now, ends_at__gt=now
    ).prefetch_related("worklists"):
        named = {w.id for w in shift.worklists.all()} or set(competences)
        for worklist_id in named & set(competences):
            primary = (
                shift.role == Shift.Role.PRIMARY
                and competences[worklist_id] == Competence.Level.PRIMARY
            )
            covered[worklist_id] = min(covered.get(worklist_id, 1), 0 if primary else 1)
    return covered


def radiologists_credentialed_for(*, site: Site, now: dt.datetime) -> QuerySet[Radiologist]:
    """Active radiologists holding a credential for ``site`` valid on the site's own date at
    ``now`` (not revoked, begun, not lapsed): whom an assignment of the site's studies accepts,
    override or not (the chooser offers no one else; peer review routes to no one else)."""
    today = now.astimezone(site.zone).date()
    return Radiologist.objects.filter(
        is_active=True,
        id__in=Credential.objects.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=today),
            site_id=site.id,
            revoked_at__isnull=True,
            valid_from__lte=today,
        ).values("radiologist_id"),
    )
