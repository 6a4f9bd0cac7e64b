"""What the capacity planner replays, read from the database: a period's arrivals, its roster,
the reading times of the history before it, the coverage windows, and what really happened
(for the back-test). Reads only; the studies through the scoping function."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.utils import timezone

from worklists import coverage, routing
from worklists.access import studies_of_sites
from worklists.models import (
    PRIORITY_RANK,
    CoverageWindow,
    Radiologist,
    Shift,
    Site,
    StudyEvent,
    StudyStatus,
)
from worklists.planner.results import Read
from worklists.planner.simulate import Arrival, ReadingTimes, SiteCoverage
from worklists.services.routing_loads import load_readers
from worklists.services.shifts import ShiftRow

_RANKS: dict[str, int] = {str(p): rank for p, rank in PRIORITY_RANK.items()}
# A read longer than this is a study left open, not reading time.
LONGEST_READ_MINUTES = 180.0
READING_HISTORY_DAYS = 90


def latest_signed_ready_day() -> dt.date | None:
    """The local day the latest signed study became ready: the planner's periods end there."""
    latest = (
        studies_of_sites(None)  # the planner is the coordinators': every site
        .filter(status=StudyStatus.FINAL, ready_at__isnull=False)
        .order_by("-ready_at")
        .values_list("ready_at", flat=True)
        .first()
    )
    return None if latest is None else timezone.localdate(latest)


def period_arrivals(
    *, starts_at: dt.datetime, ends_at: dt.datetime, site_ids: set[int] | None = None
) -> list[Arrival]:
    """The studies that became ready in the period, with what routing saw of them."""
    rows = (
        studies_of_sites(site_ids)
        .filter(ready_at__gte=starts_at, ready_at__lt=ends_at, worklist__isnull=False)
        .values_list(
            "id",
            "site_id",
            "worklist_id",
            "modality",
            "priority",
            "work_units",
            "patient_id",
            "ready_at",
            "deadline",
            "procedure_code",
        )
        .order_by("ready_at", "id")
    )
    return [
        Arrival(
            id=sid,
            site_id=site,
            worklist_id=worklist,
            modality=modality,
            priority=priority,
            routing_rank=_RANKS.get(priority, 3),
            work_units=units,
            patient_id=patient,
            ready_at=ready,
            deadline=deadline,
            procedure_code=code,
        )
        for sid, site, worklist, modality, priority, units, patient, ready, deadline, code in rows
        if worklist is not None and ready is not None
    ]


def _shift_facts(shifts: Iterable[Shift]) -> dict[int, list[routing.ShiftFacts]]:
    by_reader: dict[int, list[routing.ShiftFacts]] = defaultdict(list)
    for shift in shifts:
        worklists = frozenset(w.id for w in shift.worklists.all())
        sites = frozenset(s.id for s in shift.sites.all())
        by_reader[shift.radiologist_id].append(
            routing.ShiftFacts(
                id=shift.id,
                starts_at=shift.starts_at,
                ends_at=shift.ends_at,
                role=shift.role,
                worklist_ids=worklists or None,
                site_ids=sites or None,
                target_work_units=shift.target_work_units,
                carried_deficit=shift.carried_deficit_work_units,
            )
        )
    return by_reader


def _readers_with(shifts: dict[int, list[routing.ShiftFacts]]) -> list[routing.ReaderFacts]:
    """The readers' competences, credentials and sites as now, with ``shifts`` as their rota."""
    if not shifts:
        return []
    facts = load_readers(now=dt.datetime.now(dt.UTC), radiologist_ids=shifts, with_load=False)
    return [
        dataclasses.replace(reader, shifts=tuple(sorted(shifts[reader.id], key=_start)))
        for reader in facts
    ]


def _start(shift: routing.ShiftFacts) -> dt.datetime:
    return shift.starts_at


def period_roster(*, starts_at: dt.datetime, ends_at: dt.datetime) -> list[routing.ReaderFacts]:
    """The readers on shift at some time in the period, with every shift they had in it."""
    shifts = Shift.objects.filter(starts_at__lt=ends_at, ends_at__gt=starts_at).prefetch_related(
        "worklists", "sites"
    )
    return _readers_with(_shift_facts(shifts))


def roster_from_rows(rows: Sequence[ShiftRow]) -> list[routing.ReaderFacts]:
    """A roster from a schedule file's rows (``shifts_parse``), nothing written."""
    by_reader: dict[int, list[routing.ShiftFacts]] = defaultdict(list)
    for number, row in enumerate(rows, start=1):
        by_reader[row.radiologist_id].append(
            routing.ShiftFacts(
                id=-number,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                role=row.role,
                worklist_ids=frozenset(row.worklist_ids) or None,
                site_ids=frozenset(row.site_ids) or None,
                target_work_units=row.target_work_units,
            )
        )
    return _readers_with(by_reader)


def reading_times(*, before: dt.datetime, days: int = READING_HISTORY_DAYS) -> ReadingTimes:
    """Minutes from opening to signing of every study signed in the ``days`` before ``before``,
    per reader and procedure, per reader and work unit, and for everyone per work unit."""
    events = (
        StudyEvent.objects.filter(
            to_status__in=(StudyStatus.IN_PROGRESS, StudyStatus.FINAL),
            at__gte=before - dt.timedelta(days=days),
            at__lt=before,
        )
        .order_by("study_id", "at", "id")
        .values_list(
            "study_id", "to_status", "at", "actor_id", "study__procedure_code", "study__work_units"
        )
    )
    reader_of_user = dict(Radiologist.objects.values_list("user_id", "id"))
    opened: dict[int, dt.datetime] = {}
    by_procedure: dict[tuple[int, str], list[float]] = defaultdict(list)
    per_unit_by_reader: dict[int, list[float]] = defaultdict(list)
    per_unit: list[float] = []
    for study_id, status, at, actor_id, code, units in events.iterator(chunk_size=5000):
        if status == StudyStatus.IN_PROGRESS:
            opened[study_id] = at
            continue
        started = opened.pop(study_id, None)
        reader_id = reader_of_user.get(actor_id)
        if started is None or reader_id is None or not units:
            continue
        minutes = (at - started).total_seconds() / 60
        if not 0 < minutes <= LONGEST_READ_MINUTES:
            continue
        by_procedure[(reader_id, code)].append(minutes)
        per_unit_by_reader[reader_id].append(minutes / float(units))
        per_unit.append(minutes / float(units))
    return ReadingTimes(
        by_reader_procedure=dict(by_procedure),
        per_work_unit_by_reader=dict(per_unit_by_reader),
        per_work_unit=per_unit,
    )


def site_coverage() -> dict[int, SiteCoverage]:
    zones = dict(Site.objects.values_list("id", "time_zone"))
    windows: dict[int, list[coverage.Window]] = defaultdict(list)
    for site_id, day, starts, ends in CoverageWindow.objects.values_list(
        "site_id", "day", "starts", "ends"
    ):
        windows[site_id].append(coverage.Window(day=day, starts=starts, ends=ends))
    return {
        site_id: SiteCoverage(time_zone=zones[site_id], windows=tuple(found))
        for site_id, found in windows.items()
    }


def site_time_zones() -> dict[int, str]:
    return dict(Site.objects.values_list("id", "time_zone"))


def observed_reads(arrivals: Sequence[Arrival]) -> list[Read]:
    """What really happened to the arrivals: first assigned, last opened, signed, by whom."""
    ids = [a.id for a in arrivals]
    assigned: dict[int, dt.datetime] = {}
    opened: dict[int, dt.datetime] = {}
    final: dict[int, tuple[dt.datetime, int | None]] = {}
    reader_of_user = dict(Radiologist.objects.values_list("user_id", "id"))
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        for study_id, status, at, actor_id in (
            StudyEvent.objects.filter(
                study_id__in=chunk,
                to_status__in=(StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS, StudyStatus.FINAL),
            )
            .order_by("at", "id")
            .values_list("study_id", "to_status", "at", "actor_id")
        ):
            if status == StudyStatus.ASSIGNED:
                assigned.setdefault(study_id, at)
            elif status == StudyStatus.IN_PROGRESS:
                opened[study_id] = at
            elif study_id not in final:
                final[study_id] = (at, reader_of_user.get(actor_id))
    reads = []
    for a in arrivals:
        final_at, reader_id = final.get(a.id, (None, None))
        reads.append(
            Read(
                study_id=a.id,
                priority=a.priority,
                work_units=a.work_units,
                ready_at=a.ready_at,
                deadline=a.deadline,
                reader_id=reader_id,
                assigned_at=assigned.get(a.id),
                opened_at=opened.get(a.id),
                final_at=final_at,
            )
        )
    return reads
