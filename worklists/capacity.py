"""The capacity outlook, hour by hour: reading capacity on the roster against the backlog and the
expected inflow, the work left waiting carried from one hour to the next. Pure functions.

For each hour: the work waiting at its start (the backlog, then what the hour before left) plus
the work expected to arrive in it is the demand; the readers on the roster can do ``capacity``
work units in it; what they cannot do waits at the hour's end and is carried into the next. An
hour is **short** when work is left waiting at its end: its capacity falls short of its demand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HourPlan:
    starts_at: dt.datetime  # aware; an hour of wall-clock time is one hour of UTC time
    capacity: float  # work units the roster can read in the hour
    inflow: float  # work units expected to arrive in the hour


@dataclass(frozen=True, slots=True)
class HourOutlook:
    starts_at: dt.datetime
    capacity: float
    inflow: float
    waiting_at_start: float  # carried in: the backlog, or what the hour before left
    done: float  # work units read in the hour
    waiting_at_end: float  # carried out to the next hour

    @property
    def demand(self) -> float:
        return self.waiting_at_start + self.inflow

    @property
    def is_short(self) -> bool:
        return self.waiting_at_end > 0

    @property
    def spare(self) -> float:
        """Capacity not needed in the hour (0 in a short hour)."""
        return self.capacity - self.done


def outlook(*, backlog: float, hours: Sequence[HourPlan]) -> list[HourOutlook]:
    """The hours in order, ``backlog`` waiting at the first hour's start."""
    if backlog < 0:
        raise ValueError("the backlog cannot be negative")
    waiting = backlog
    result = []
    for hour in hours:
        if hour.capacity < 0 or hour.inflow < 0:
            raise ValueError("capacity and inflow cannot be negative")
        demand = waiting + hour.inflow
        done = min(hour.capacity, demand)
        # Rounded to the hundredth work units are kept in, so float sums do not leave a
        # phantom 1e-15 waiting (and a falsely short hour).
        left = round(demand - done, 2)
        result.append(
            HourOutlook(
                starts_at=hour.starts_at,
                capacity=hour.capacity,
                inflow=hour.inflow,
                waiting_at_start=waiting,
                done=done,
                waiting_at_end=left,
            )
        )
        waiting = left
    return result


def hour_starts(*, now: dt.datetime, hours: int, zone: dt.tzinfo) -> list[dt.datetime]:
    """The starts of ``hours`` hours from the start of the current hour, in ``zone``.

    Stepped in UTC, so a day with a DST change has 23 or 25 of them, each a real hour; every
    hour start is a whole hour in ``zone`` (the zones this serves shift by whole hours).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    first = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return [(first + dt.timedelta(hours=i)).astimezone(zone) for i in range(hours)]


@dataclass(frozen=True, slots=True)
class RosterSpan:
    """A reader's shift as capacity: ``rate`` work units per hour from ``starts`` to ``ends``,
    shared equally between the worklists it covers."""

    starts: dt.datetime
    ends: dt.datetime
    rate: float
    worklist_ids: tuple[int, ...]


def part_left(start: dt.datetime, now: dt.datetime) -> float:
    """The share of the hour starting at ``start`` still ahead at ``now`` (1 before it, 0
    after it): the current hour's capacity and inflow count only from now."""
    elapsed = (now.astimezone(dt.UTC) - start.astimezone(dt.UTC)).total_seconds()
    return min(1.0, max(0.0, 1 - elapsed / 3600))


def capacity_by_hour(
    spans: Iterable[RosterSpan],
    starts: Sequence[dt.datetime],
    *,
    since: dt.datetime | None = None,
) -> dict[int, list[float]]:
    """Per worklist, the capacity of each hour starting at ``starts``: each span's rate for the
    part of the hour it covers (and that is not before ``since``: what is past of the current
    hour reads nothing more), divided between its worklists."""
    result: dict[int, list[float]] = {}
    # In UTC: Python subtracts and adds two times of one zone on the wall clock, an hour off
    # across a DST change.
    hours = [(s.astimezone(dt.UTC), s.astimezone(dt.UTC) + dt.timedelta(hours=1)) for s in starts]
    if since is not None:
        since = since.astimezone(dt.UTC)
        hours = [(max(start, since), end) for start, end in hours]
    for span in spans:
        if not span.worklist_ids or span.rate <= 0:
            continue
        share = span.rate / len(span.worklist_ids)
        span_starts, span_ends = span.starts.astimezone(dt.UTC), span.ends.astimezone(dt.UTC)
        for index, (start, end) in enumerate(hours):
            overlap = (min(end, span_ends) - max(start, span_starts)).total_seconds()
            if overlap <= 0:
                continue
            for worklist_id in span.worklist_ids:
                row = result.setdefault(worklist_id, [0.0] * len(starts))
                row[index] += share * overlap / 3600
    return result
