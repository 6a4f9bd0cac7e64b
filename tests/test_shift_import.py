"""Shift import from CSV and iCalendar: all rows checked, all or nothing; wall clock across DST."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests import factories
from worklists.models import Shift
from worklists.services.shifts import ShiftImportError, shifts_import

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
pytestmark = pytest.mark.django_db


@pytest.fixture
def rad01(site_a, neuro):
    rad = factories.RadiologistFactory(user__username="rad01", hpr_number="1234567")
    factories.credential(rad, site_a)
    factories.competence(rad, neuro)
    return rad


CSV = """radiologist,date,starts,ends,role,worklists,sites,target_work_units,external_id
rad01,2026-03-28,22:00,08:00,primary,neuro,alfa,12,n1
1234567,2026-11-23,08:00,16:00,backup,,,,
"""


def test_a_csv_schedule_imports_every_row_with_its_worklists_sites_and_target(rad01, neuro, site_a):
    result = shifts_import(content=CSV.encode(), filename="week13.csv")

    assert (result.created, result.updated) == (2, 0)
    night, day = Shift.objects.order_by("starts_at")
    assert night.radiologist == rad01
    assert night.role == Shift.Role.PRIMARY
    assert list(night.worklists.all()) == [neuro]
    assert list(night.sites.all()) == [site_a]
    assert night.target_work_units == 12
    assert night.source == "week13.csv"
    assert day.role == Shift.Role.BACKUP
    assert day.worklists.count() == 0  # every worklist the reader is competent in


def test_a_night_shift_from_22_to_08_across_the_spring_dst_change_ends_at_08_local(rad01):
    shifts_import(content=CSV.encode(), filename="week13.csv")
    night = Shift.objects.get(external_id="n1")

    assert night.starts_at.astimezone(OSLO) == dt.datetime(2026, 3, 28, 22, 0, tzinfo=OSLO)
    assert night.ends_at.astimezone(OSLO) == dt.datetime(2026, 3, 29, 8, 0, tzinfo=OSLO)
    # 10 hours of wall clock; 9 hours elapsed, because the clocks went forward at 02:00.
    assert night.ends_at - night.starts_at == dt.timedelta(hours=9)


def test_importing_the_same_ids_again_updates_instead_of_duplicating(rad01):
    shifts_import(content=CSV.encode(), filename="week13.csv")
    changed = CSV.replace("rad01,2026-03-28,22:00,08:00", "rad01,2026-03-28,21:00,07:00")

    result = shifts_import(content=changed.encode(), filename="week13-v2.csv")

    assert (result.created, result.updated) == (1, 1)
    assert Shift.objects.filter(external_id="n1").count() == 1
    assert Shift.objects.get(external_id="n1").starts_at.astimezone(OSLO).hour == 21


def test_one_bad_row_and_nothing_is_imported_with_each_error_named_by_line(rad01):
    bad = CSV + "nobody,2026-11-24,08:00,16:00,,,,,\nrad01,24.11.2026,8,16,chief,mammo,zulu,x,\n"

    with pytest.raises(ShiftImportError) as caught:
        shifts_import(content=bad.encode(), filename="bad.csv")

    assert Shift.objects.count() == 0
    errors = caught.value.errors
    assert "line 4: unknown radiologist 'nobody'" in errors
    line5 = [e for e in errors if e.startswith("line 5:")]
    assert any("date as YYYY-MM-DD" in e for e in line5)
    assert any("role must be primary or backup" in e for e in line5)
    assert "line 5: unknown worklist 'mammo'" in errors
    assert "line 5: unknown site 'zulu'" in errors
    assert any("target_work_units must be a number" in e for e in line5)


def test_a_csv_without_the_required_columns_is_refused(rad01):
    with pytest.raises(ShiftImportError, match="missing column"):
        shifts_import(content=b"who,when\nrad01,today\n", filename="s.csv")


def test_a_shift_that_is_too_long_or_a_duplicated_id_is_refused(rad01):
    content = (
        "radiologist,date,starts,ends,external_id\n"
        "rad01,2026-11-23,08:00,08:00,a\n"  # ends at or before the start: next day, 24 h, fine
        "rad01,2026-11-24,08:00,16:00,a\n"
    )
    with pytest.raises(ShiftImportError) as caught:
        shifts_import(content=content.encode(), filename="s.csv")
    assert caught.value.errors == ["line 3: same id as line 2"]
    assert Shift.objects.count() == 0


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//Vaktplan//NO
BEGIN:VEVENT
UID:night-2026-10-24@vaktplan
DTSTART;TZID=Europe/Oslo:20261024T220000
DTEND;TZID=Europe/Oslo:20261025T080000
SUMMARY:Nattvakt nevro
X-TELERAD-RADIOLOGIST:rad01
X-TELERAD-ROLE:BACKUP
X-TELERAD-WORKLISTS:neuro
END:VEVENT
BEGIN:VEVENT
UID:day-2026-11-23@vaktplan
DTSTART:20261123T070000Z
DTEND:20261123T150000Z
ATTENDEE:mailto:rad01@example.test
END:VEVENT
END:VCALENDAR
"""


def test_an_ics_schedule_imports_events_by_uid_across_the_autumn_dst_change(rad01, neuro):
    rad01.user.email = "rad01@example.test"
    rad01.user.save(update_fields=["email"])

    result = shifts_import(content=ICS.replace("\n", "\r\n").encode(), filename="vakt.ics")

    assert result.created == 2
    night = Shift.objects.get(external_id="night-2026-10-24@vaktplan")
    assert night.role == Shift.Role.BACKUP
    assert list(night.worklists.all()) == [neuro]
    assert night.ends_at.astimezone(OSLO).time() == dt.time(8, 0)
    assert night.ends_at - night.starts_at == dt.timedelta(hours=11)  # the clock repeated 02-03
    day = Shift.objects.get(external_id="day-2026-11-23@vaktplan")
    assert day.radiologist == rad01
    assert day.starts_at == dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)


def test_an_ics_event_for_an_unknown_reader_or_all_day_is_refused_and_nothing_imported(rad01):
    broken = ICS.replace("X-TELERAD-RADIOLOGIST:rad01", "X-TELERAD-RADIOLOGIST:rad99").replace(
        "DTSTART:20261123T070000Z\nDTEND:20261123T150000Z",
        "DTSTART;VALUE=DATE:20261123\nDTEND;VALUE=DATE:20261124",
    )
    with pytest.raises(ShiftImportError) as caught:
        shifts_import(content=broken.encode(), filename="vakt.ics")
    assert Shift.objects.count() == 0
    assert any(
        e.startswith("event night-2026-10-24@vaktplan: unknown radiologist 'rad99'")
        for e in caught.value.errors
    )
    assert any("not all-day" in e for e in caught.value.errors)


def test_a_file_that_is_not_a_calendar_is_refused():
    with pytest.raises(ShiftImportError, match="not an iCalendar file"):
        shifts_import(content=b"hello", filename="x.ics")
    with pytest.raises(ShiftImportError, match=r"import \.ics or \.csv"):
        shifts_import(content=b"hello", filename="x.xlsx")


def test_the_command_imports_a_file_and_reports_errors_without_importing(rad01, tmp_path):
    good = tmp_path / "shifts.csv"
    good.write_text(CSV, encoding="utf-8")
    out = StringIO()
    call_command("import_shifts", str(good), stdout=out)
    assert "2 shift(s) created, 0 updated" in out.getvalue()

    bad = tmp_path / "bad.csv"
    bad.write_text(CSV.replace("rad01,2026-03-28", "rad77,2026-03-28"), encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError, match="1 error"):
        call_command("import_shifts", str(bad), stderr=err)
    assert "line 2: unknown radiologist 'rad77'" in err.getvalue()
    assert Shift.objects.count() == 2


def test_the_admin_imports_an_uploaded_schedule_and_lists_errors(rad01, client, coordinator):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(coordinator)  # a superuser-like coordinator with staff rights
    coordinator.is_staff = True
    coordinator.is_superuser = True
    coordinator.save(update_fields=["is_staff", "is_superuser"])
    url = reverse("admin:worklists_shift_import")

    response = client.post(
        url, {"file": SimpleUploadedFile("bad.csv", b"radiologist,date,starts,ends\nx,y,z,w\n")}
    )
    assert response.status_code == 200
    assert "line 2: unknown radiologist" in response.content.decode()
    assert Shift.objects.count() == 0

    response = client.post(url, {"file": SimpleUploadedFile("ok.csv", CSV.encode())})
    assert response.status_code == 302
    assert Shift.objects.count() == 2
    assert client.get(reverse("admin:worklists_shift_changelist")).status_code == 200


# --- Recurring events ----------------------------------------------------------------------------

# A weekly Saturday night shift, 22:00-08:00 Oslo time, from 14 March 2026, open-ended; not on
# 21 March (EXDATE); also on Thursday 2 April (RDATE, Easter). The nights into the last Sundays
# of March and October span the DST changes (02:00 -> 03:00 and 03:00 -> 02:00).
ROSTER = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//Vaktplan//NO
BEGIN:VEVENT
UID:weekly-night@vaktplan
DTSTART;TZID=Europe/Oslo:20260314T220000
DTEND;TZID=Europe/Oslo:20260315T080000
RRULE:FREQ=WEEKLY
EXDATE;TZID=Europe/Oslo:20260321T220000
RDATE;TZID=Europe/Oslo:20260402T220000
SUMMARY:Nattvakt
X-TELERAD-RADIOLOGIST:rad01
X-TELERAD-WORKLISTS:neuro
END:VEVENT
END:VCALENDAR
"""
BEFORE_THE_ROSTER = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def _import_roster(text: str = ROSTER, *, now: dt.datetime = BEFORE_THE_ROSTER):
    return shifts_import(content=text.replace("\n", "\r\n").encode(), filename="rota.ics", now=now)


def _local_starts() -> list[dt.datetime]:
    return [s.starts_at.astimezone(OSLO) for s in Shift.objects.order_by("starts_at")]


def test_a_weekly_night_shift_is_one_shift_per_occurrence_at_22_local_across_both_dst_changes(
    rad01, neuro, settings
):
    settings.ROUTING_SHIFT_RECURRENCE_DAYS = 240  # to 5 November 2026

    result = _import_roster()

    saturdays = [dt.date(2026, 3, 14) + dt.timedelta(weeks=n) for n in range(34)]  # to 31 Oct
    expected = sorted({*saturdays, dt.date(2026, 4, 2)} - {dt.date(2026, 3, 21)})
    assert result.created == len(expected) == 34
    shifts = list(Shift.objects.order_by("starts_at"))
    assert [s.starts_at.astimezone(OSLO).date() for s in shifts] == expected
    for shift in shifts:
        assert shift.starts_at.astimezone(OSLO).time() == dt.time(22, 0)
        assert shift.ends_at.astimezone(OSLO).time() == dt.time(8, 0)
        assert list(shift.worklists.all()) == [neuro]
    by_day = {s.starts_at.astimezone(OSLO).date(): s for s in shifts}
    # The wall clock stays; the UTC instant moves with the offset.
    assert by_day[dt.date(2026, 3, 14)].starts_at == dt.datetime(2026, 3, 14, 21, tzinfo=dt.UTC)
    assert by_day[dt.date(2026, 4, 4)].starts_at == dt.datetime(2026, 4, 4, 20, tzinfo=dt.UTC)
    assert by_day[dt.date(2026, 10, 31)].starts_at == dt.datetime(2026, 10, 31, 21, tzinfo=dt.UTC)
    # The nights of the changes: 9 hours in spring, 11 in autumn, 10 on every other.
    hours = {day: (s.ends_at - s.starts_at) / dt.timedelta(hours=1) for day, s in by_day.items()}
    assert hours.pop(dt.date(2026, 3, 28)) == 9
    assert hours.pop(dt.date(2026, 10, 24)) == 11
    assert set(hours.values()) == {10}
    assert by_day[dt.date(2026, 3, 28)].external_id == "weekly-night@vaktplan/20260328T210000Z"


def test_occurrences_are_imported_from_the_import_on_for_the_horizon_only(rad01, settings):
    settings.ROUTING_SHIFT_RECURRENCE_DAYS = 14
    # 03:00 on Sunday 29 March, Oslo: the night shift that began at 22:00 is under way.
    now = dt.datetime(2026, 3, 29, 3, 0, tzinfo=OSLO)

    _import_roster(now=now)

    assert [d.date() for d in _local_starts()] == [
        dt.date(2026, 3, 28),  # under way at the import
        dt.date(2026, 4, 2),
        dt.date(2026, 4, 4),
        dt.date(2026, 4, 11),  # the 18th starts after the horizon
    ]


def test_importing_the_roster_again_updates_and_an_added_exdate_removes_that_night(rad01, settings):
    settings.ROUTING_SHIFT_RECURRENCE_DAYS = 30  # to 9 April: 14 and 28 March, 2 and 4 April
    first = _import_roster()
    again = _import_roster()

    assert (first.created, first.updated, first.removed) == (4, 0, 0)
    assert (again.created, again.updated, again.removed) == (0, 4, 0)
    assert Shift.objects.count() == 4

    Shift.objects.filter(starts_at__date=dt.date(2026, 3, 14)).update(started_at=BEFORE_THE_ROSTER)
    holiday = ROSTER.replace(
        "EXDATE;TZID=Europe/Oslo:20260321T220000",
        "EXDATE;TZID=Europe/Oslo:20260321T220000,20260404T220000,20260314T220000",
    )
    changed = _import_roster(holiday)

    assert (changed.created, changed.updated, changed.removed) == (0, 2, 1)
    assert [d.date() for d in _local_starts()] == [
        dt.date(2026, 3, 14),  # started: kept, whatever the file says now
        dt.date(2026, 3, 28),
        dt.date(2026, 4, 2),
    ]


def test_a_moved_occurrence_is_the_same_shift_at_its_new_time(rad01, settings):
    settings.ROUTING_SHIFT_RECURRENCE_DAYS = 30
    _import_roster()
    moved = ROSTER.replace(
        "END:VEVENT\nEND:VCALENDAR",
        "END:VEVENT\nBEGIN:VEVENT\nUID:weekly-night@vaktplan\n"
        "RECURRENCE-ID;TZID=Europe/Oslo:20260328T220000\n"
        "DTSTART;TZID=Europe/Oslo:20260328T230000\nDTEND;TZID=Europe/Oslo:20260329T080000\n"
        "X-TELERAD-RADIOLOGIST:rad01\nEND:VEVENT\nEND:VCALENDAR",
    )

    result = _import_roster(moved)

    assert (result.created, result.updated, result.removed) == (0, 4, 0)
    night = Shift.objects.get(external_id="weekly-night@vaktplan/20260328T210000Z")
    assert night.starts_at.astimezone(OSLO) == dt.datetime(2026, 3, 28, 23, 0, tzinfo=OSLO)


def test_a_recurrence_that_cannot_be_read_or_an_occurrence_for_nobody_imports_nothing(rad01):
    with pytest.raises(ShiftImportError, match="recurrence"):
        _import_roster(ROSTER.replace("RRULE:FREQ=WEEKLY", "RRULE:FREQ=SOMETIMES"))
    with pytest.raises(ShiftImportError) as caught:
        _import_roster(ROSTER.replace("X-TELERAD-RADIOLOGIST:rad01", "X-TELERAD-RADIOLOGIST:x"))
    assert caught.value.errors[0].startswith(
        "event weekly-night@vaktplan occurrence 20260314T210000Z: unknown radiologist 'x'"
    )
    assert Shift.objects.count() == 0
