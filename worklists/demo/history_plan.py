"""Months of plausible past for the demo: what arrived when, who was on shift, who read what.

Pure: no database. ``history`` turns the plan into rows. The plan is a small queueing model of
its own (each reader reads one study at a time, a study waits for an eligible reader on shift),
deliberately not the routing rules: the capacity planner replays this history through the real
routing rules, and its back-test is only worth something against a history it did not make.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from worklists.demo.procedures import PRIORITY_LETTERS, PROCEDURES, ProcedureSpec

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
# Orders per site on an ordinary weekday; the other days as a share of it.
WEEKDAY_ORDERS_PER_SITE = 30
DAY_SHARE = (1.0, 1.0, 0.97, 0.95, 0.9, 0.38, 0.32)  # Monday .. Sunday
# Share of a day's orders in each local hour: the day programme, a smaller evening, a quiet night.
HOUR_WEIGHTS = (
    1, 1, 1, 1, 1, 1, 2, 4, 9, 11, 11, 10, 9, 10, 10, 9, 7, 5, 4, 4, 3, 2, 2, 1,
)  # fmt: skip
MINUTES_PER_WORK_UNIT = 9.0
CANCEL_SHARE = 0.02  # orders withdrawn before the images arrive
RETURN_SHARE = 0.012  # referrals a reader returns after opening
PULL_SHARE = 0.4
BACKUP_AFTER_SHARE = 0.5  # the rest are pushed by routing
# As the reports app's returned-referral service words its event (its reasons' English labels).
RETURN_LABELS = (
    "Insufficient clinical information",
    "Not indicated by guideline",
    "Duplicate of a recent examination",
)


@dataclass(frozen=True, slots=True)
class PlanReader:
    id: int
    name: str
    modalities: frozenset[str]
    worklist_ids: frozenset[int]  # competent, primary or backup
    site_ids: frozenset[int]  # credentialed
    backup_worklist_ids: frozenset[int] = frozenset()  # competent as a backup only


@dataclass(frozen=True, slots=True)
class PlanShift:
    reader_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    key: str  # unique per reader: the shift's external id


@dataclass(frozen=True, slots=True)
class Classified:
    worklist_id: int
    rule_id: int | None
    work_units: Decimal


@dataclass(slots=True)
class PlannedStudy:
    day: dt.date
    number: int
    site_id: int
    patient_index: int
    procedure: ProcedureSpec
    priority: str
    ordered_at: dt.datetime
    question_index: int
    patient_id: int = 0
    patient_age_years: int | None = None
    ready_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    reader_id: int | None = None
    pulled: bool = False
    assigned_at: dt.datetime | None = None
    opened_at: dt.datetime | None = None
    final_at: dt.datetime | None = None
    returned_at: dt.datetime | None = None
    return_label: str = ""
    classified: Classified | None = None
    deadline: dt.datetime | None = None


def roster_for_day(readers: Sequence[PlanReader], day: dt.date) -> list[PlanShift]:
    """The demo's rota: most readers on the weekday day shift, a few evening and night readers
    every day, a small weekend day team. Rotates with the date, so everyone takes turns."""
    shifts: list[PlanShift] = []
    turn = day.toordinal()
    weekend = day.weekday() >= 5

    def at(hour: int, days: int = 0) -> dt.datetime:
        local = dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour), tzinfo=OSLO)
        return local.astimezone(dt.UTC)

    for index, reader in enumerate(readers):
        if weekend:
            if (index + turn) % 5 == 0:
                shifts.append(PlanShift(reader.id, at(9), at(21), f"history-{day}-weekend"))
            elif (index + turn) % 9 == 1:
                shifts.append(PlanShift(reader.id, at(21), at(9, 1), f"history-{day}-night"))
            continue
        if (index + turn) % 7 == 3:
            shifts.append(PlanShift(reader.id, at(15), at(23), f"history-{day}-evening"))
        elif (index + turn) % 9 == 1:
            shifts.append(PlanShift(reader.id, at(23), at(8, 1), f"history-{day}-night"))
        elif (index + day.isocalendar().week) % 5 != 0:
            shifts.append(PlanShift(reader.id, at(8), at(16), f"history-{day}-day"))
    return shifts


def speed_factor(reader_id: int) -> float:
    """Each reader's own pace, the same on every run: 0.75 (quick) to 1.35 (thorough)."""
    return 0.75 + random.Random(f"history-speed-{reader_id}").random() * 0.6


def arrivals_for_day(
    day: dt.date, *, site_ids: Sequence[int], patient_count: int, rng: random.Random
) -> list[PlannedStudy]:
    """One day's orders at every site, by weekday and hour, in order time."""
    planned: list[PlannedStudy] = []
    weekday_share = DAY_SHARE[day.weekday()]
    for site_index, site_id in enumerate(site_ids):
        # Sites differ in size: the first are the big hospitals.
        size = 1.25 - 0.1 * site_index
        mean = WEEKDAY_ORDERS_PER_SITE * weekday_share * size
        count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
        for _ in range(count):
            hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
            local = dt.datetime.combine(day, dt.time(hour), tzinfo=OSLO) + dt.timedelta(
                seconds=rng.uniform(0, 3600)
            )
            procedure = rng.choices(PROCEDURES, weights=[p.weight for p in PROCEDURES])[0]
            planned.append(
                PlannedStudy(
                    day=day,
                    number=0,
                    site_id=site_id,
                    patient_index=rng.randrange(patient_count),
                    procedure=procedure,
                    priority=str(PRIORITY_LETTERS[rng.choice(procedure.priorities)]),
                    ordered_at=local.astimezone(dt.UTC),
                    question_index=rng.randrange(1000),
                )
            )
    planned.sort(key=lambda p: (p.ordered_at, p.site_id))
    for number, study in enumerate(planned, start=1):
        study.number = number
    return planned


@dataclass
class ReadingModel:
    """Who reads what, and when: each study goes to the eligible reader on shift who can start
    it first; a reader reads one study at a time, in the order the studies became ready."""

    readers: Sequence[PlanReader]
    shifts: Sequence[PlanShift]
    free_at: dict[int, dt.datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shifts_by_reader: dict[int, list[PlanShift]] = {}
        for shift in sorted(self.shifts, key=lambda s: s.starts_at):
            self.shifts_by_reader.setdefault(shift.reader_id, []).append(shift)

    def _start_time(self, reader_id: int, earliest: dt.datetime) -> dt.datetime | None:
        """The first moment at or after ``earliest`` that the reader is free and on shift."""
        moment = max(earliest, self.free_at.get(reader_id, earliest))
        for shift in self.shifts_by_reader.get(reader_id, ()):
            if shift.ends_at <= moment + dt.timedelta(minutes=5):
                continue
            return max(moment, shift.starts_at)
        return None

    def read(self, study: PlannedStudy, rng: random.Random, *, modality: str, site_id: int) -> bool:
        assert study.ready_at is not None
        assert study.classified is not None
        primary: tuple[dt.datetime, int] | None = None
        backup: tuple[dt.datetime, int] | None = None
        for reader in self.readers:
            if (
                modality not in reader.modalities
                or site_id not in reader.site_ids
                or study.classified.worklist_id not in reader.worklist_ids
            ):
                continue
            start = self._start_time(reader.id, study.ready_at)
            if start is None:
                continue
            if study.classified.worklist_id in reader.backup_worklist_ids:
                backup = min(backup or (start, reader.id), (start, reader.id))
            else:
                primary = min(primary or (start, reader.id), (start, reader.id))
        # Backup readers get it only when no primary reader could start before half the time
        # to the deadline has gone (as escalation widens to backups then).
        assert study.deadline is not None
        backup_from = study.ready_at + (study.deadline - study.ready_at) * BACKUP_AFTER_SHARE
        best = primary
        if backup is not None and (primary is None or primary[0] > backup_from):
            best = min(backup, primary) if primary is not None else backup
        if best is None:
            return False
        start, reader_id = best
        minutes = (
            MINUTES_PER_WORK_UNIT
            * float(study.classified.work_units)
            * speed_factor(reader_id)
            * rng.lognormvariate(0, 0.35)
        )
        # Opening follows the pick-up by a little; the read itself takes the drawn time.
        study.opened_at = start + dt.timedelta(seconds=rng.uniform(10, 90))
        study.reader_id = reader_id
        study.pulled = rng.random() < PULL_SHARE
        if study.pulled:
            study.assigned_at = study.opened_at - dt.timedelta(seconds=rng.uniform(2, 8))
        else:
            # Routing pushes it as soon as the reader is on shift with room in the queue.
            study.assigned_at = max(
                study.ready_at + dt.timedelta(seconds=rng.uniform(1, 5)),
                start - dt.timedelta(minutes=rng.uniform(1, 20)),
            )
            study.assigned_at = min(study.assigned_at, study.opened_at)
        done = study.opened_at + dt.timedelta(minutes=max(1.5, minutes))
        if rng.random() < RETURN_SHARE:
            study.returned_at = study.opened_at + dt.timedelta(minutes=rng.uniform(1, 4))
            study.return_label = rng.choice(RETURN_LABELS)
            done = study.returned_at
        else:
            study.final_at = done
        self.free_at[reader_id] = done
        return True


def plan_day_studies(
    planned: Sequence[PlannedStudy],
    *,
    model: ReadingModel,
    classify: Mapping[int, Classified],
    contracts: Mapping[int, Mapping[str, int]],
    rng: random.Random,
) -> None:
    """Images, classification, deadline and the read for each of the day's orders, in place.

    ``classify``: index in ``planned`` -> the classification the real rules give it."""
    for index, study in enumerate(planned):
        if rng.random() < CANCEL_SHARE:
            study.cancelled_at = study.ordered_at + dt.timedelta(minutes=rng.uniform(5, 120))
            continue
        study.ready_at = study.ordered_at + dt.timedelta(minutes=rng.uniform(4, 40))
        study.classified = classify[index]
        minutes = contracts[study.site_id][study.priority]
        study.deadline = study.ready_at + dt.timedelta(minutes=minutes)
    ready = sorted(
        (s for s in planned if s.ready_at is not None), key=lambda s: (s.ready_at, s.number)
    )
    for study in ready:
        model.read(study, rng, modality=study.procedure.modality, site_id=study.site_id)
