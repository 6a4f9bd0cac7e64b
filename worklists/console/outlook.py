"""The capacity outlook's selectors: the roster as capacity, the backlog, and the inflow of the
same weekday and hour over the last weeks, gathered per worklist and handed to the pure
computation in ``worklists.capacity``. Coordinators only (``scope_of``).

Aggregates only, no study rows: nothing of a patient is read, so nothing is audited.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from worklists import capacity
from worklists.access import AnyUser
from worklists.console.scope import Scope, scope_of
from worklists.models import UNREAD_STATUSES, Competence, Shift, Worklist

OUTLOOK_HOURS = (24, 7 * 24)


@dataclass(frozen=True, slots=True)
class WorklistOutlook:
    worklist_id: int
    code: str
    name: str
    backlog: float
    hours: list[capacity.HourOutlook]

    @property
    def short_hours(self) -> int:
        return sum(1 for h in self.hours if h.is_short)

    @property
    def first_short_at(self) -> dt.datetime | None:
        return next((h.starts_at for h in self.hours if h.is_short), None)

    @property
    def capacity(self) -> float:
        return sum(h.capacity for h in self.hours)

    @property
    def inflow(self) -> float:
        return sum(h.inflow for h in self.hours)

    @property
    def waiting_at_end(self) -> float:
        return self.hours[-1].waiting_at_end if self.hours else self.backlog


@dataclass(frozen=True, slots=True)
class CapacityOutlook:
    now: dt.datetime
    zone: str
    history_weeks: int
    starts: list[dt.datetime]  # the hours, in the deployment's zone
    worklists: list[WorklistOutlook]

    @property
    def short_worklists(self) -> int:
        return sum(1 for w in self.worklists if w.short_hours)


def deployment_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def capacity_outlook(
    *, user: AnyUser, hours: int = 24, now: dt.datetime | None = None
) -> CapacityOutlook:
    """Per worklist and hour for the next ``hours`` hours (from the start of the current one):
    the roster's capacity, the expected inflow, and the backlog carried hour to hour. Of the
    current hour only what is left of it counts: its capacity from now, its share of inflow."""
    scope = scope_of(user)
    if hours not in OUTLOOK_HOURS:
        raise ValueError(f"the outlook covers {OUTLOOK_HOURS} hours, not {hours}")
    now = now or timezone.now()
    zone = deployment_zone()
    weeks = settings.OUTLOOK_HISTORY_WEEKS
    starts = capacity.hour_starts(now=now, hours=hours, zone=zone)
    ends = starts[-1].astimezone(dt.UTC) + dt.timedelta(hours=1)
    capacities = capacity.capacity_by_hour(
        roster_spans(starts=starts[0], ends=ends), starts, since=now
    )
    backlog = backlog_work_units(scope)
    per_slot = expected_inflow(scope, before=starts[0], weeks=weeks, zone=zone)
    worklist_ids = set(capacities) | set(backlog) | {key[0] for key in per_slot}
    result = []
    for worklist in Worklist.objects.filter(id__in=worklist_ids).order_by("display_order", "name"):
        plans = [
            capacity.HourPlan(
                starts_at=start,
                capacity=capacities.get(worklist.id, [0.0] * hours)[index],
                inflow=per_slot.get((worklist.id, start.isoweekday(), start.hour), 0.0)
                * capacity.part_left(start, now),
            )
            for index, start in enumerate(starts)
        ]
        waiting = backlog.get(worklist.id, 0.0)
        result.append(
            WorklistOutlook(
                worklist_id=worklist.id,
                code=worklist.code,
                name=worklist.name,
                backlog=waiting,
                hours=capacity.outlook(backlog=waiting, hours=plans),
            )
        )
    return CapacityOutlook(
        now=now, zone=str(zone), history_weeks=weeks, starts=starts, worklists=result
    )


def roster_spans(*, starts: dt.datetime, ends: dt.datetime) -> list[capacity.RosterSpan]:
    """Every primary shift of an active reader overlapping [starts, ends), as a rate: its target
    work units over its length. It covers the worklists it names (all when it names none) that
    the reader is a primary reader of; a shift without a target adds no capacity."""
    shifts = list(
        Shift.objects.filter(
            ends_at__gt=starts,
            starts_at__lt=ends,
            role=Shift.Role.PRIMARY,
            radiologist__is_active=True,
            target_work_units__gt=0,
        ).values_list("id", "radiologist_id", "starts_at", "ends_at", "target_work_units")
    )
    named: dict[int, set[int]] = defaultdict(set)
    for shift_id, worklist_id in Shift.worklists.through.objects.filter(
        shift_id__in=[s[0] for s in shifts]
    ).values_list("shift_id", "worklist_id"):
        named[shift_id].add(worklist_id)
    competent: dict[int, set[int]] = defaultdict(set)
    for reader_id, worklist_id in Competence.objects.filter(
        radiologist_id__in={s[1] for s in shifts}, level=Competence.Level.PRIMARY
    ).values_list("radiologist_id", "worklist_id"):
        competent[reader_id].add(worklist_id)
    spans = []
    for shift_id, reader_id, shift_starts, shift_ends, target in shifts:
        covered = (
            competent[reader_id] & named[shift_id] if named[shift_id] else competent[reader_id]
        )
        # In UTC (as stored): a night across a DST change is 9 or 11 real hours.
        hours = (shift_ends.astimezone(dt.UTC) - shift_starts.astimezone(dt.UTC)).total_seconds()
        hours /= 3600
        spans.append(
            capacity.RosterSpan(
                starts=shift_starts,
                ends=shift_ends,
                rate=float(target) / hours,
                worklist_ids=tuple(sorted(covered)),
            )
        )
    return spans


def backlog_work_units(scope: Scope) -> dict[int, float]:
    """Work units unread now per worklist."""
    return {
        worklist_id: float(units or 0)
        for worklist_id, units in scope.studies.filter(
            status__in=UNREAD_STATUSES, worklist__isnull=False
        )
        .order_by()
        .values("worklist_id")
        .annotate(units=Sum("work_units"))
        .values_list("worklist_id", "units")
    }


def expected_inflow(
    scope: Scope, *, before: dt.datetime, weeks: int, zone: zoneinfo.ZoneInfo
) -> dict[tuple[int, int, int], float]:
    """Per (worklist, ISO weekday, hour in ``zone``): the mean work units that became ready in
    that hour over the ``weeks`` weeks before ``before``. The window is counted on the wall
    clock, so each weekday and hour occurs ``weeks`` times in it across a DST change."""
    local = before.astimezone(zone)
    since = local - dt.timedelta(weeks=weeks)  # aware arithmetic on a ZoneInfo: wall clock
    rows = (
        scope.studies.filter(ready_at__gte=since, ready_at__lt=before, worklist__isnull=False)
        .annotate(
            weekday=ExtractIsoWeekDay("ready_at", tzinfo=zone),
            hour=ExtractHour("ready_at", tzinfo=zone),
        )
        .order_by()
        .values("worklist_id", "weekday", "hour")
        .annotate(units=Sum("work_units"))
        .values_list("worklist_id", "weekday", "hour", "units")
    )
    return {(w, day, hour): float(units or 0) / weeks for w, day, hour, units in rows}
