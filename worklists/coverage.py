"""Coverage windows: when a site outsources its reading. Pure: no ORM, no settings.

Windows are in the site's own time zone and its own calendar: "weekdays 15:30-08:00" opens at
15:30 local time on each weekday and closes at 08:00 local time the next morning, whatever the
UTC offset did in between. A window whose end is at or before its start runs into the next day.
Day 7 is every Norwegian public holiday (from the ``holidays`` package).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

import holidays

PUBLIC_HOLIDAY = 7


@dataclass(frozen=True, slots=True)
class Window:
    day: int  # 0 Monday .. 6 Sunday, 7 Norwegian public holiday
    starts: dt.time
    ends: dt.time

    @property
    def overnight(self) -> bool:
        return self.ends <= self.starts


@functools.lru_cache(maxsize=64)
def _norwegian_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("NO", years=year).keys())


def is_public_holiday(day: dt.date) -> bool:
    return day in _norwegian_holidays(day.year)


def _applies_on(window: Window, day: dt.date) -> bool:
    if window.day == PUBLIC_HOLIDAY:
        return is_public_holiday(day)
    return window.day == day.weekday()


def is_covered(windows: Iterable[Window], *, time_zone: str, at: dt.datetime) -> bool:
    """Whether a site with these windows outsources at ``at``. No windows: always."""
    windows = tuple(windows)
    if not windows:
        return True
    if at.tzinfo is None:
        raise ValueError("coverage needs a timezone-aware time")
    local = at.astimezone(zoneinfo.ZoneInfo(time_zone))
    today, clock = local.date(), local.time().replace(tzinfo=None)
    yesterday = today - dt.timedelta(days=1)
    for window in windows:
        if window.overnight:
            # Tonight's part of a window opened today, or the morning part of yesterday's.
            if _applies_on(window, today) and clock >= window.starts:
                return True
            if _applies_on(window, yesterday) and clock < window.ends:
                return True
        elif _applies_on(window, today) and window.starts <= clock < window.ends:
            return True
    return False


def local_span(
    *, start_day: dt.date, starts: dt.time, ends: dt.time, time_zone: str
) -> tuple[dt.datetime, dt.datetime]:
    """The aware start and end of a local-time span such as a night shift 22:00-08:00.

    Each end is placed on the local wall clock, so across a DST change the span is 10 hours of
    wall clock (9 or 11 hours elapsed); never start + duration.
    """
    zone = zoneinfo.ZoneInfo(time_zone)
    end_day = start_day + dt.timedelta(days=1) if ends <= starts else start_day
    return (
        dt.datetime.combine(start_day, starts, tzinfo=zone),
        dt.datetime.combine(end_day, ends, tzinfo=zone),
    )
