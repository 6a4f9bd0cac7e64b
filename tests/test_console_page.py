"""The coordinator's console page and its alert actions: who may see it, what it shows, what it
costs, and what acknowledging and snoozing do."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.console_support import operation
from worklists.console.views import snooze_until
from worklists.models import AuditEvent, CoordinatorAlert, Study
from worklists.services.alerts import SnoozeRefused, alert_raise
from worklists.services.preferences import user_language_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def op(site_a, site_b, neuro, owner):
    return operation(site_a=site_a, site_b=site_b, neuro=neuro, owner=owner)


@pytest.fixture
def alert(op):
    return alert_raise(
        kind="routing.escalation",
        message="Deadline near and nobody is reading this study: assign a reader.",
        study_id=op.soon.id,
    )[0]


def test_only_coordinators_open_the_console(client, op, owner, site_user, coordinator):
    assert client.get(reverse("console")).status_code == 302  # to the login page
    for user in (owner.user, site_user):
        client.force_login(user)
        assert client.get(reverse("console")).status_code == 403
    client.force_login(coordinator)
    assert client.get(reverse("console")).status_code == 200


def test_the_menu_links_the_console_for_coordinators_only(client, op, owner, coordinator):
    client.force_login(owner.user)
    assert reverse("console") not in client.get(reverse("worklist")).content.decode()
    client.force_login(coordinator)
    assert f'href="{reverse("console")}"' in client.get(reverse("worklist")).content.decode()


def test_the_console_shows_alerts_studies_at_risk_backlog_and_readers(
    client, op, alert, coordinator
):
    client.force_login(coordinator)
    html = client.get(reverse("console")).content.decode()

    assert f'data-alert-id="{alert.id}"' in html
    assert "Nobody reading" in html
    at_risk = re.findall(r'data-at-risk-study-id="(\d+)"', html)
    assert at_risk == [str(op.late.id), str(op.soon.id), str(op.waiting.id)]
    assert 'data-backlog-key="neuro"' in html
    assert 'data-figure="overdue">1<' in html
    assert 'data-figure="at-risk">2<' in html
    readers = re.findall(r'data-reader-id="(\d+)"', html)
    assert readers == [str(op.off_shift.id), str(op.on_shift.id), str(op.next_up.id)]
    assert 'data-flag="off-shift"' in html
    assert 'data-live-page="console"' in html
    assert 'data-live-refetch="region"' in html


def test_the_console_audits_every_study_it_names(client, op, alert, coordinator):
    client.force_login(coordinator)
    client.get(reverse("console"))
    listed = set(
        AuditEvent.objects.filter(
            actor_id=coordinator.pk, action=AuditEvent.Action.STUDY_LIST
        ).values_list("object_id", flat=True)
    )
    # the at-risk list (late, soon, waiting) and the study the reader on shift has open (late)
    assert listed == {str(op.late.id), str(op.soon.id), str(op.waiting.id)}


def test_the_console_costs_the_same_queries_however_big_the_operation(
    client, op, alert, coordinator, site_a, neuro
):
    client.force_login(coordinator)
    client.get(reverse("console"))  # session and content types read once

    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("console")).status_code == 200
    for n in range(6):
        reader = factories.RadiologistFactory()
        factories.credential(reader, site_a)
        factories.competence(reader, neuro)
        factories.shift(reader)
        study = factories.ready_study(
            site_a, neuro, deadline=timezone.now() + dt.timedelta(minutes=10 + n)
        )
        alert_raise(kind="routing.escalation", message="m", study_id=study.id)
        factories.held_study(reader, site=site_a, worklist=neuro)
    with CaptureQueriesContext(connection) as big:
        assert client.get(reverse("console")).status_code == 200
    assert len(big.captured_queries) == len(small.captured_queries)
    # session, user, the menu, the console's own statements (the unclassified studies and the
    # surges among them), the dead-letter panel of the HL7 adapter (its role check, its list and
    # its audit insert) and one audit insert; main counted 31 before the surges' statement
    assert len(small.captured_queries) <= 32


def test_acknowledging_from_the_page_removes_the_alert(client, op, alert, coordinator):
    client.force_login(coordinator)
    url = reverse("console-alert-acknowledge", args=[alert.id])

    response = client.post(url, headers={"HX-Request": "true"})

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-alert-id="{alert.id}"' not in html
    assert "Alert acknowledged." in html
    alert.refresh_from_db()
    assert (alert.resolved_by_id, alert.resolution) == (coordinator.pk, "acknowledged")
    # again, without htmx: back to the console, with the reason it did nothing
    again = client.post(url)
    assert again.status_code == 302
    assert "already acknowledged" in client.get(reverse("console")).content.decode()


def test_snoozing_from_the_page_until_a_clock_time(client, op, alert, coordinator):
    client.force_login(coordinator)
    oslo = zoneinfo.ZoneInfo("Europe/Oslo")
    target = (
        (timezone.now() + dt.timedelta(hours=2)).astimezone(oslo).replace(second=0, microsecond=0)
    )
    response = client.post(
        reverse("console-alert-snooze", args=[alert.id]),
        {"until": f"{target:%H:%M}"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-alert-id="{alert.id}"' not in html
    assert f'data-snoozed-alert-id="{alert.id}"' in html
    assert f"snoozed until {target:%H:%M}" in html
    alert.refresh_from_db()
    assert alert.snoozed_until == target


def test_snoozing_for_minutes_and_refusals(client, op, alert, coordinator, owner):
    client.force_login(owner.user)
    url = reverse("console-alert-snooze", args=[alert.id])
    assert client.post(url, {"minutes": "30"}).status_code == 403
    alert.refresh_from_db()
    assert alert.snoozed_until is None

    client.force_login(coordinator)
    before = timezone.now()
    assert client.post(url, {"minutes": "30"}).status_code == 302
    alert.refresh_from_db()
    assert before + dt.timedelta(minutes=30) <= alert.snoozed_until
    assert alert.snoozed_until <= timezone.now() + dt.timedelta(minutes=30)
    bad = client.post(url, {"until": "25:99"}, headers={"HX-Request": "true"})
    assert "Give the time as HH:MM." in bad.content.decode()
    assert (
        client.post(reverse("console-alert-snooze", args=[999999]), {"minutes": "5"}).status_code
        == 404
    )


def test_a_clock_time_already_past_today_means_tomorrow(settings):
    oslo = zoneinfo.ZoneInfo("Europe/Oslo")
    now = dt.datetime(2026, 12, 3, 22, 30, tzinfo=oslo)
    assert snooze_until(minutes="", until="23:15", now=now) == dt.datetime(
        2026, 12, 3, 23, 15, tzinfo=oslo
    )
    assert snooze_until(minutes="", until="06:00", now=now) == dt.datetime(
        2026, 12, 4, 6, 0, tzinfo=oslo
    )
    with pytest.raises(SnoozeRefused):
        snooze_until(minutes="soon", until="", now=now)


def test_non_coordinators_cannot_acknowledge(client, op, alert, owner, site_user):
    for user in (owner.user, site_user):
        client.force_login(user)
        response = client.post(reverse("console-alert-acknowledge", args=[alert.id]))
        assert response.status_code == 403
    assert CoordinatorAlert.objects.get(pk=alert.id).is_open
    assert Study.objects.filter(pk=op.soon.id).exists()


def test_an_alerts_message_is_shown_in_the_coordinators_language_from_its_data(
    client, op, coordinator
):
    alert_raise(
        kind="patient.records_conflict",
        message="Sites disagree about patient 7: birth_date, family_name (alfa, bravo). …",
        study_id=op.soon.id,
        data={"fields": ["birth_date", "family_name"], "sites": ["alfa", "national register"]},
    )
    client.force_login(coordinator)
    english = client.get(reverse("console")).content.decode()
    assert (
        "records of this patient differ in birth date, family name (alfa, national register)"
        in (english)
    )
    assert "birth_date" not in english

    user_language_set(user_id=coordinator.pk, language="nb")
    client.force_login(coordinator)  # the language a user chose applies from their sign-in
    bokmaal = client.get(reverse("console")).content.decode()
    assert "fødselsdato, etternavn (alfa, folkeregisteret)" in bokmaal
    assert "Sites disagree" not in bokmaal


def test_the_console_speaks_bokmaal_to_a_coordinator_who_chose_it(client, op, alert, coordinator):
    user_language_set(user_id=coordinator.pk, language="nb")
    client.force_login(coordinator)
    html = client.get(reverse("console")).content.decode()
    for words in ("Konsoll", "Kvitter", "Utsett", "Ingen beskriver", "I faresonen", "Restanse"):
        assert words in html, words
    assert "Acknowledge" not in html
