"""The capacity outlook: the pure hour-by-hour computation against figures worked out by hand,
the selectors that gather roster, backlog and past inflow on fixed data, DST days, and the page,
the console panel and GET /api/v1/console/outlook for coordinators only."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories
from worklists import capacity
from worklists.console import outlook as selectors
from worklists.console.outlook_views import week_rows
from worklists.console.scope import scope_of
from worklists.errors import NotPermitted
from worklists.models import Competence, Shift, StudyStatus

pytestmark = pytest.mark.django_db

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")


def at(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=OSLO)


def plan(start: dt.datetime, capacity_: float, inflow: float) -> capacity.HourPlan:
    return capacity.HourPlan(starts_at=start, capacity=capacity_, inflow=inflow)


# --- the pure computation -----------------------------------------------------------------------


def test_the_backlog_is_carried_hour_to_hour_and_hours_left_waiting_are_short():
    starts = capacity.hour_starts(now=at(2026, 5, 4, 10, 37), hours=4, zone=OSLO)

    hours = capacity.outlook(
        backlog=5,
        hours=[
            plan(starts[0], 3, 1),  # 5 + 1 = 6 waiting, 3 read, 3 left: short
            plan(starts[1], 3, 1),  # 3 + 1 = 4, 3 read, 1 left: short
            plan(starts[2], 3, 0),  # 1 + 0 = 1, 1 read, 0 left, 2 spare
            plan(starts[3], 0, 2),  # nobody on the roster: 2 left
        ],
    )

    assert [(h.waiting_at_start, h.done, h.waiting_at_end) for h in hours] == [
        (5, 3, 3),
        (3, 3, 1),
        (1, 1, 0),
        (0, 0, 2),
    ]
    assert [h.is_short for h in hours] == [True, True, False, True]
    assert [h.spare for h in hours] == [0, 0, 2, 0]
    assert hours[0].demand == 6


def test_an_hour_with_enough_capacity_for_its_demand_is_not_short():
    start = at(2026, 5, 4, 10, 0)

    [hour] = capacity.outlook(backlog=0.1, hours=[plan(start, 0.3, 0.2)])

    assert not hour.is_short  # 0.1 + 0.2 is not left as 5.5e-17 waiting
    assert hour.waiting_at_end == 0


def test_negative_inputs_are_refused():
    start = at(2026, 5, 4, 10, 0)
    with pytest.raises(ValueError, match="backlog"):
        capacity.outlook(backlog=-1, hours=[])
    with pytest.raises(ValueError, match="capacity and inflow"):
        capacity.outlook(backlog=0, hours=[plan(start, -1, 0)])


def test_the_hours_start_at_the_current_hour_in_the_deployments_zone():
    starts = capacity.hour_starts(now=at(2026, 5, 4, 10, 37), hours=24, zone=OSLO)

    assert starts[0] == at(2026, 5, 4, 10, 0)
    assert starts[-1] == at(2026, 5, 5, 9, 0)
    assert len(starts) == 24


def test_the_spring_dst_day_has_23_hours_and_no_two_oclock():
    starts = capacity.hour_starts(now=at(2026, 3, 29, 0, 10), hours=24, zone=OSLO)

    on_the_day = [s.hour for s in starts if s.date() == dt.date(2026, 3, 29)]
    assert on_the_day == [0, 1, *range(3, 24)]
    assert starts[-1] == at(2026, 3, 30, 0, 0)


def test_the_autumn_dst_day_has_25_hours_with_two_oclock_twice():
    starts = capacity.hour_starts(now=at(2026, 10, 25, 0, 0), hours=25, zone=OSLO)

    assert [s.hour for s in starts] == [0, 1, 2, 2, *range(3, 24)]
    assert starts[2].utcoffset() == dt.timedelta(hours=2)
    assert starts[3].utcoffset() == dt.timedelta(hours=1)


def test_a_shift_gives_its_rate_for_the_part_of_each_hour_shared_by_its_worklists():
    starts = capacity.hour_starts(now=at(2026, 5, 4, 10, 0), hours=3, zone=OSLO)
    span = capacity.RosterSpan(
        starts=at(2026, 5, 4, 10, 30), ends=at(2026, 5, 4, 20, 30), rate=3.0, worklist_ids=(1, 2)
    )

    by_worklist = capacity.capacity_by_hour([span], starts)

    assert by_worklist == {1: [0.75, 1.5, 1.5], 2: [0.75, 1.5, 1.5]}


def test_the_current_hour_counts_only_from_now():
    starts = capacity.hour_starts(now=at(2026, 5, 4, 10, 45), hours=2, zone=OSLO)
    span = capacity.RosterSpan(
        starts=at(2026, 5, 4, 8, 0), ends=at(2026, 5, 4, 16, 0), rate=4.0, worklist_ids=(1,)
    )

    assert capacity.capacity_by_hour([span], starts, since=at(2026, 5, 4, 10, 45)) == {
        1: [1.0, 4.0]
    }
    assert capacity.part_left(starts[0], at(2026, 5, 4, 10, 45)) == 0.25
    assert capacity.part_left(starts[1], at(2026, 5, 4, 10, 45)) == 1.0
    assert capacity.part_left(starts[0], at(2026, 5, 4, 11, 30)) == 0.0


def test_the_current_hours_inflow_is_its_share_of_the_slot_left(
    coordinator, site_a, neuro, settings
):
    settings.OUTLOOK_HISTORY_WEEKS = 1
    factories.ready_study(  # last Monday 09:xx: 4 WU expected in the 09:00 slot
        site_a, neuro, ready_at=at(2026, 5, 4, 9, 5), work_units=4, status=StudyStatus.FINAL
    )

    view = selectors.capacity_outlook(user=coordinator, hours=24, now=at(2026, 5, 11, 9, 30))

    [line] = view.worklists
    assert line.hours[0].inflow == 2.0
    assert line.waiting_at_end == 2.0  # nobody on the roster


def test_a_night_shift_over_the_spring_change_gives_its_rate_in_each_real_hour():
    # 22:00 to 08:00 on the wall clock is nine real hours that night.
    span_start, span_end = at(2026, 3, 28, 22, 0), at(2026, 3, 29, 8, 0)
    assert span_end.astimezone(dt.UTC) - span_start.astimezone(dt.UTC) == dt.timedelta(hours=9)
    starts = capacity.hour_starts(now=span_start, hours=10, zone=OSLO)
    span = capacity.RosterSpan(starts=span_start, ends=span_end, rate=2.0, worklist_ids=(7,))

    assert capacity.capacity_by_hour([span], starts) == {7: [2.0] * 9 + [0.0]}


# --- the selectors on fixed data ----------------------------------------------------------------


@pytest.fixture
def msk(db):
    return factories.WorklistFactory(code="msk", name="Muskel og skjelett", display_order=20)


def test_the_roster_counts_primary_shifts_with_targets_on_primary_competences(
    owner, other_radiologist, neuro, msk
):
    factories.competence(owner, msk)
    start, end = at(2026, 5, 4, 8, 0), at(2026, 5, 4, 18, 0)
    named = factories.shift(
        owner, starts_at=start, ends_at=end, worklists=(msk,), target_work_units=Decimal("20")
    )
    every = factories.shift(
        other_radiologist, starts_at=start, ends_at=end, target_work_units=Decimal("10")
    )
    factories.shift(owner, starts_at=start, ends_at=end, target_work_units=Decimal("0"))
    factories.shift(
        owner, starts_at=start, ends_at=end, role=Shift.Role.BACKUP, target_work_units=5
    )
    backup_reader = factories.RadiologistFactory()
    factories.competence(backup_reader, neuro, level=Competence.Level.BACKUP)
    factories.shift(backup_reader, starts_at=start, ends_at=end, target_work_units=Decimal("9"))

    spans = selectors.roster_spans(starts=start, ends=end)

    # 20 WU over 10 h on msk only (named, and a primary competence); 10 WU over 10 h on every
    # primary competence (neuro); the backup reader's shift covers no worklist; the shift
    # without a target and the backup shift are not counted
    by_rate = sorted((s.rate, s.worklist_ids) for s in spans)
    assert by_rate == [(0.9, ()), (1.0, (neuro.id,)), (2.0, (msk.id,))]
    assert named.worklists.count() == 1
    assert every.worklists.count() == 0


def test_the_backlog_is_the_unread_work_units_per_worklist(coordinator, site_a, neuro, msk):
    factories.ready_study(site_a, neuro, work_units=Decimal("1.5"))
    factories.ready_study(site_a, neuro, work_units=Decimal("2"), status=StudyStatus.IN_PROGRESS)
    factories.ready_study(site_a, neuro, work_units=Decimal("4"), status=StudyStatus.FINAL)
    factories.ready_study(site_a, msk, work_units=Decimal("0.5"), status=StudyStatus.ASSIGNED)

    assert selectors.backlog_work_units(scope_of(coordinator)) == {neuro.id: 3.5, msk.id: 0.5}


def test_the_inflow_is_the_mean_of_the_same_weekday_and_hour_over_the_weeks(
    coordinator, site_a, neuro
):
    before = at(2026, 5, 11, 0, 0)  # a Monday
    # Mondays 09:xx, one and two weeks back: 2 + 1 work units over 2 weeks
    factories.ready_study(site_a, neuro, ready_at=at(2026, 5, 4, 9, 10), work_units=Decimal("2"))
    factories.ready_study(site_a, neuro, ready_at=at(2026, 4, 27, 9, 59), work_units=1)
    # Tuesday 14:00 once
    factories.ready_study(site_a, neuro, ready_at=at(2026, 5, 5, 14, 0), work_units=1)
    # three weeks back: outside the window
    factories.ready_study(site_a, neuro, ready_at=at(2026, 4, 20, 9, 30), work_units=8)
    # after the window's end
    factories.ready_study(site_a, neuro, ready_at=at(2026, 5, 11, 9, 30), work_units=8)

    inflow = selectors.expected_inflow(scope_of(coordinator), before=before, weeks=2, zone=OSLO)

    assert inflow == {(neuro.id, 1, 9): 1.5, (neuro.id, 2, 14): 0.5}


def test_the_outlook_puts_roster_backlog_and_inflow_together(
    coordinator, owner, site_a, neuro, settings
):
    settings.OUTLOOK_HISTORY_WEEKS = 1
    now = at(2026, 5, 11, 9, 20)  # Monday
    # 8 WU over 4 hours from 09:00: 2 WU an hour until 13:00
    factories.shift(
        owner, starts_at=at(2026, 5, 11, 9, 0), ends_at=at(2026, 5, 11, 13, 0), target_work_units=8
    )
    factories.ready_study(site_a, neuro, ready_at=at(2026, 5, 11, 8, 0), work_units=3)  # backlog
    factories.ready_study(  # last Monday 10:xx: expected 1.5 at 10:00
        site_a,
        neuro,
        ready_at=at(2026, 5, 4, 10, 5),
        work_units=Decimal("1.5"),
        status=StudyStatus.FINAL,
    )

    view = selectors.capacity_outlook(user=coordinator, hours=24, now=now)

    [line] = view.worklists
    assert line.backlog == 3
    first = line.hours[:5]
    assert [h.starts_at.hour for h in first] == [9, 10, 11, 12, 13]
    # 09:20: two thirds of the current hour are left to read in
    assert [round(h.capacity, 4) for h in first] == [1.3333, 2, 2, 2, 0]
    assert [h.inflow for h in first] == [0, 1.5, 0, 0, 0]
    # 3 -> 1.67 left at 10:00; 1.67 + 1.5 = 3.17 -> 1.17 left; 1.17 -> 0 at 11:00
    assert [h.waiting_at_end for h in first] == [1.67, 1.17, 0, 0, 0]
    assert line.short_hours == 2
    assert line.first_short_at == at(2026, 5, 11, 9, 0)
    assert view.zone == "Europe/Oslo"


def test_on_the_spring_dst_day_each_hour_takes_its_own_weekdays_inflow(
    coordinator, site_a, neuro, settings
):
    settings.OUTLOOK_HISTORY_WEEKS = 1
    now = at(2026, 3, 29, 0, 5)  # Sunday; 02:00 does not exist tonight
    final = StudyStatus.FINAL  # read since: inflow then, no backlog now
    factories.ready_study(
        site_a, neuro, ready_at=at(2026, 3, 22, 3, 30), work_units=2, status=final
    )
    factories.ready_study(
        site_a, neuro, ready_at=at(2026, 3, 22, 2, 30), work_units=5, status=final
    )

    view = selectors.capacity_outlook(user=coordinator, hours=24, now=now)

    [line] = view.worklists
    inflow = {(h.starts_at.day, h.starts_at.hour): h.inflow for h in line.hours}
    assert inflow[(29, 3)] == 2
    assert (29, 2) not in inflow  # the skipped hour has no row and its inflow is no one's
    assert len([h for h in line.hours if h.starts_at.day == 29]) == 23
    assert line.waiting_at_end == 2  # nobody on the roster reads the 03:00 arrivals


# --- who may see it: coordinators only ----------------------------------------------------------


def test_only_coordinators_get_the_outlook(owner, site_user, coordinator):
    with pytest.raises(NotPermitted):
        selectors.capacity_outlook(user=owner.user)
    with pytest.raises(NotPermitted):
        selectors.capacity_outlook(user=site_user)
    assert selectors.capacity_outlook(user=coordinator).starts


@pytest.mark.parametrize("name", ["console-outlook", "console-outlook-panel"])
def test_the_pages_are_for_coordinators_only(name, client, owner, site_user, coordinator):
    url = reverse(name)
    assert client.get(url).status_code == 302  # to the login
    client.force_login(owner.user)
    assert client.get(url).status_code == 403
    client.force_login(site_user)
    assert client.get(url).status_code == 403
    client.force_login(coordinator)
    assert client.get(url).status_code == 200


def test_the_page_marks_the_short_hours_for_a_day_and_for_a_week(
    client, coordinator, owner, site_a, neuro
):
    factories.ready_study(site_a, neuro, work_units=5)  # a backlog nobody on the roster reads
    client.force_login(coordinator)

    day = client.get(reverse("console-outlook"))
    week = client.get(reverse("console-outlook"), {"view": "week"})

    assert day.status_code == week.status_code == 200
    assert len(re.findall(r"data-short[ >]", day.content.decode())) == 24
    assert len(re.findall(r"data-short[ >]", week.content.decode())) == 7 * 24
    assert 'data-outlook-worklist="neuro"' in day.content.decode()


def test_the_console_loads_the_panel_which_marks_short_hours(
    client, coordinator, owner, site_a, neuro, monkeypatch
):
    factories.shift(owner, target_work_units=Decimal("80"))
    factories.ready_study(site_a, neuro, work_units=1)
    client.force_login(coordinator)
    # Ten minutes into the hour: in an hour's last six minutes the shift's 10 WU an hour cannot
    # read the backlog's 1 WU before the hour ends, which is a short hour (as it should be).
    ten_past = timezone.now().replace(minute=10, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: ten_past)

    console = client.get(reverse("console"))
    panel = client.get(reverse("console-outlook-panel"))

    assert reverse("console-outlook-panel") in console.content.decode()
    body = panel.content.decode()
    assert 'data-outlook-worklist="neuro"' in body
    # 10 WU an hour for the shift's 8 hours (7 of them still ahead), nobody after: the
    # backlog is read at once and the hours without a reader stay clear (no inflow known)
    assert 'data-short-hours="0"' in body


# --- the API ------------------------------------------------------------------------------------


def test_the_api_answers_coordinators_only(client_for, api_client, owner, site_user, coordinator):
    url = reverse("api-console-outlook")
    assert api_client.get(url).status_code in (401, 403)
    assert client_for(owner.user).get(url).status_code == 403
    assert client_for(site_user).get(url).status_code == 403
    assert client_for(coordinator).get(url).status_code == 200


def test_the_api_gives_a_day_or_a_week_per_worklist_and_hour(
    client_for, coordinator, site_a, neuro
):
    factories.ready_study(site_a, neuro, work_units=Decimal("2.5"))
    api = client_for(coordinator)

    day = api.get(reverse("api-console-outlook")).json()
    week = api.get(reverse("api-console-outlook"), {"hours": 168}).json()
    refused = api.get(reverse("api-console-outlook"), {"hours": 5})

    [line] = day["worklists"]
    assert (line["code"], line["backlog"], line["short_hours"]) == ("neuro", 2.5, 24)
    assert len(line["hours"]) == 24
    assert line["hours"][0]["waiting_at_end"] == 2.5
    assert line["hours"][0]["is_short"] is True
    assert len(week["worklists"][0]["hours"]) == 168
    assert refused.status_code == 400
    assert "hours" in refused.json()["errors"]


def test_the_outlook_endpoint_is_in_the_openapi_schema(client):
    schema = client.get(reverse("schema"), {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/console/outlook"]["get"]
    assert operation["operationId"] == "v1_console_outlook"
    assert any(p["name"] == "hours" for p in operation["parameters"])


def _line(hours: list[capacity.HourOutlook]) -> selectors.WorklistOutlook:
    return selectors.WorklistOutlook(worklist_id=1, code="x", name="X", backlog=0, hours=hours)


def test_the_week_grid_shows_the_autumn_nights_repeated_hour_once_short_if_either_is():
    starts = capacity.hour_starts(now=at(2026, 10, 25, 0, 0), hours=25, zone=OSLO)
    # nobody reads; 1 WU arrives in the second 02:00 only: short from then on
    plans = [plan(s, 0, 1 if i == 3 else 0) for i, s in enumerate(starts)]

    [row] = week_rows(_line(capacity.outlook(backlog=0, hours=plans)))

    assert row.day == dt.date(2026, 10, 25)
    assert all(cell is not None for cell in row.cells)
    assert row.cells[2] is not None
    assert row.cells[2].is_short
    assert row.short_hours == 22  # the second 02:00 and 03:00..23:00
    assert row.inflow == 1


def test_the_week_grid_leaves_the_spring_nights_missing_hour_empty():
    starts = capacity.hour_starts(now=at(2026, 3, 29, 0, 0), hours=23, zone=OSLO)

    [row] = week_rows(_line(capacity.outlook(backlog=0, hours=[plan(s, 1, 0) for s in starts])))

    assert row.cells[2] is None
    assert sum(1 for cell in row.cells if cell is not None) == 23
    assert row.capacity == 23
