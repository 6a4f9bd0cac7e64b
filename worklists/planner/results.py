"""What a replay or a real period comes to: turnaround per priority, deadline misses, queue depth
per hour, work units per reader. Pure Python, shared by the simulator and the back-test."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

PRIORITIES = ("STAT", "URGENT", "CANCER_PATHWAY", "ROUTINE")


@dataclass(frozen=True, slots=True)
class Read:
    """One study's way through a period: ready, given to a reader, opened, signed."""

    study_id: int
    priority: str
    work_units: Decimal
    ready_at: dt.datetime
    deadline: dt.datetime | None
    reader_id: int | None = None
    assigned_at: dt.datetime | None = None
    opened_at: dt.datetime | None = None
    final_at: dt.datetime | None = None
    tier: int = 0

    @property
    def turnaround_minutes(self) -> float | None:
        if self.final_at is None:
            return None
        return (self.final_at - self.ready_at).total_seconds() / 60

    def missed(self, horizon: dt.datetime) -> bool:
        """Signed after its deadline, or not signed by ``horizon`` with the deadline passed."""
        if self.deadline is None:
            return False
        if self.final_at is None:
            return self.deadline < horizon
        return self.final_at > self.deadline


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (share 0.5 the median, 0.9 the 90th): a value that occurred."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class PriorityFigures:
    priority: str
    studies: int
    signed: int
    median_minutes: float | None
    p90_minutes: float | None
    missed: int


@dataclass
class Outcome:
    """A scenario's figures over one period."""

    name: str
    reads: list[Read]
    horizon: dt.datetime
    queue_depth: list[tuple[dt.datetime, int]] = field(default_factory=list)
    reader_names: Mapping[int, str] = field(default_factory=dict)

    def by_priority(self) -> list[PriorityFigures]:
        figures = []
        for priority in (*PRIORITIES, "ALL"):
            reads = [r for r in self.reads if priority in ("ALL", r.priority)]
            minutes = [m for r in reads if (m := r.turnaround_minutes) is not None]
            figures.append(
                PriorityFigures(
                    priority=priority,
                    studies=len(reads),
                    signed=len(minutes),
                    median_minutes=percentile(minutes, 0.5),
                    p90_minutes=percentile(minutes, 0.9),
                    missed=sum(r.missed(self.horizon) for r in reads),
                )
            )
        return figures

    def work_units_by_reader(self) -> dict[int, Decimal]:
        totals: dict[int, Decimal] = {}
        for read in self.reads:
            if read.reader_id is not None and read.final_at is not None:
                totals[read.reader_id] = totals.get(read.reader_id, Decimal("0")) + read.work_units
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    @property
    def missed(self) -> int:
        return sum(r.missed(self.horizon) for r in self.reads)


def hourly_queue_depth(
    reads: Iterable[Read], *, starts_at: dt.datetime, ends_at: dt.datetime
) -> list[tuple[dt.datetime, int]]:
    """At each whole hour: studies ready and not yet opened (waiting in the pool or a queue)."""
    changes: list[tuple[dt.datetime, int]] = []
    for read in reads:
        changes.append((read.ready_at, 1))
        if read.opened_at is not None:
            changes.append((read.opened_at, -1))
    changes.sort(key=lambda change: change[0])
    hour = starts_at.replace(minute=0, second=0, microsecond=0)
    if hour < starts_at:
        hour += dt.timedelta(hours=1)
    depth: list[tuple[dt.datetime, int]] = []
    waiting = 0
    index = 0
    while hour <= ends_at:
        # Ready at or before the hour counts; opened exactly at the hour no longer waits.
        while index < len(changes) and changes[index][0] <= hour:
            waiting += changes[index][1]
            index += 1
        depth.append((hour, waiting))
        hour += dt.timedelta(hours=1)
    return depth


@dataclass(frozen=True, slots=True)
class BackTest:
    """How far the replay of a period with its own roster is from what happened."""

    observed: list[PriorityFigures]
    simulated: list[PriorityFigures]

    def median_error(self, priority: str = "ALL") -> float | None:
        """Relative error of the simulated median turnaround against the observed one."""
        return _relative(self.observed, self.simulated, priority, lambda f: f.median_minutes)

    def p90_error(self, priority: str = "ALL") -> float | None:
        return _relative(self.observed, self.simulated, priority, lambda f: f.p90_minutes)


def _relative(
    observed: Sequence[PriorityFigures],
    simulated: Sequence[PriorityFigures],
    priority: str,
    value: object,
) -> float | None:
    assert callable(value)
    seen = next((f for f in observed if f.priority == priority), None)
    replayed = next((f for f in simulated if f.priority == priority), None)
    if seen is None or replayed is None:
        return None
    a, b = value(seen), value(replayed)
    if a is None or b is None or a == 0:
        return None
    return float((b - a) / a)
