"""Coverage windows (worklists.coverage): in the site's own zone and calendar, holidays and DST."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from worklists.coverage import PUBLIC_HOLIDAY, Window, is_covered, is_public_holiday, local_span

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
WEEKDAY_EVENINGS = [Window(day=d, starts=dt.time(15, 30), ends=dt.time(8, 0)) for d in range(5)]
WEEKENDS = [Window(day=d, starts=dt.time(0, 0), ends=dt.time(0, 0)) for d in (5, 6)]
HOLIDAYS = [Window(day=PUBLIC_HOLIDAY, starts=dt.time(0, 0), ends=dt.time(0, 0))]
AFTER_HOURS = WEEKDAY_EVENINGS + WEEKENDS + HOLIDAYS


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=OSLO)


def covered(
    at: dt.datetime, windows: list[Window] = AFTER_HOURS, zone: str = "Europe/Oslo"
) -> bool:
    return is_covered(windows, time_zone=zone, at=at)


def test_a_site_without_windows_outsources_around_the_clock():
    assert covered(oslo(2026, 11, 25, 11, 0), windows=[])


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (oslo(2026, 11, 25, 11, 0), False),  # Wednesday daytime: the site reads its own
        (oslo(2026, 11, 25, 15, 29), False),
        (oslo(2026, 11, 25, 15, 30), True),  # the window opens
        (oslo(2026, 11, 25, 23, 59), True),
        (oslo(2026, 11, 26, 7, 59), True),  # Thursday morning: Wednesday's window still open
        (oslo(2026, 11, 26, 8, 0), False),  # and closed at 08:00
        (oslo(2026, 11, 28, 12, 0), True),  # Saturday
        (oslo(2026, 11, 30, 7, 0), False),  # Monday 07:00: Sunday's window closed at midnight
    ],
)
def test_weekday_evenings_and_weekends_in_local_time(at: dt.datetime, expected: bool):
    assert covered(at) is expected


def test_monday_morning_is_covered_when_the_weekend_runs_until_eight():
    weekend_into_monday = [*AFTER_HOURS, Window(0, dt.time(0), dt.time(8))]
    assert covered(oslo(2026, 11, 30, 7, 0), windows=weekend_into_monday)


def test_a_norwegian_public_holiday_is_covered_all_day():
    # 17 May 2027 (Constitution Day) is a Monday; Ascension Day 2026 is Thursday 14 May.
    assert is_public_holiday(dt.date(2027, 5, 17))
    assert is_public_holiday(dt.date(2026, 5, 14))
    assert covered(oslo(2027, 5, 17, 11, 0))
    assert covered(oslo(2026, 5, 14, 10, 0))
    assert not covered(oslo(2026, 5, 13, 10, 0))  # the Wednesday before is an ordinary day
    assert not covered(oslo(2027, 5, 17, 11, 0), windows=WEEKDAY_EVENINGS + WEEKENDS)


def test_the_window_follows_the_site_clock_across_the_spring_dst_change():
    # Sunday 29 March 2026, 02:00 -> 03:00 in Oslo. A Saturday night window 22:00-08:00 local.
    saturday_night = [Window(day=5, starts=dt.time(22), ends=dt.time(8))]
    assert covered(oslo(2026, 3, 28, 22, 0), windows=saturday_night)
    assert covered(oslo(2026, 3, 29, 7, 59), windows=saturday_night)
    assert not covered(oslo(2026, 3, 29, 8, 0), windows=saturday_night)
    # 06:30 UTC is 08:30 summer time: closed, though winter time would say 07:30.
    assert not covered(dt.datetime(2026, 3, 29, 6, 30, tzinfo=dt.UTC), windows=saturday_night)
    assert covered(dt.datetime(2026, 3, 29, 5, 30, tzinfo=dt.UTC), windows=saturday_night)


def test_a_site_in_another_zone_is_judged_on_its_own_clock():
    at = dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)  # 17:00 in Oslo, 11:00 in New York
    assert covered(at)
    assert not covered(at, zone="America/New_York")


def test_coverage_needs_an_aware_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        covered(dt.datetime(2026, 11, 25, 16, 0), windows=WEEKENDS)


@pytest.mark.parametrize(
    ("night", "elapsed_hours"),
    [
        (dt.date(2026, 3, 28), 9),  # into summer time: the clock skips an hour
        (dt.date(2026, 10, 24), 11),  # into winter time: the clock repeats an hour
        (dt.date(2026, 11, 21), 10),
    ],
)
def test_a_night_shift_from_22_to_08_lasts_10_hours_of_wall_clock_across_dst(
    night: dt.date, elapsed_hours: int
):
    starts_at, ends_at = local_span(
        start_day=night, starts=dt.time(22), ends=dt.time(8), time_zone="Europe/Oslo"
    )
    assert starts_at.astimezone(OSLO).time() == dt.time(22)
    assert ends_at.astimezone(OSLO).time() == dt.time(8)
    assert ends_at.astimezone(OSLO).date() == night + dt.timedelta(days=1)
    elapsed = ends_at.astimezone(dt.UTC) - starts_at.astimezone(dt.UTC)
    assert elapsed == dt.timedelta(hours=elapsed_hours)
