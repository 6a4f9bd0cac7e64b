"""Coordinator alerts: one open alert per kind and study (raising again updates it), resolved,
acknowledged and snoozed, each change with its history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests import factories
from tests.factories import StudyFactory
from tests.live_support import GroupListener
from worklists import live
from worklists.access import COORDINATORS_GROUP
from worklists.actors import Actor
from worklists.console import selectors as console
from worklists.models import CoordinatorAlert, CoordinatorAlertEvent
from worklists.services.alerts import (
    ALERT_EVENT,
    AlertAlreadyResolved,
    NotACoordinator,
    SnoozeRefused,
    alert_acknowledge,
    alert_raise,
    alert_resolve,
    alert_snooze,
)

pytestmark = pytest.mark.django_db


def test_raising_the_same_open_alert_twice_keeps_one_alert(site_a):
    study = StudyFactory.create(site=site_a)
    first, created = alert_raise(kind="routing.escalation", message="nobody", study_id=study.id)
    again, created_again = alert_raise(kind="routing.escalation", message="x", study_id=study.id)
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert first.site_id == site_a.id
    assert CoordinatorAlert.objects.count() == 1


def test_a_resolved_alert_can_be_raised_anew(site_a, coordinator):
    study = StudyFactory.create(site=site_a)
    first, _ = alert_raise(kind="dicom.patient_mismatch", message="PID differs", study_id=study.id)
    resolved = alert_resolve(alert_id=first.pk, actor=Actor.for_user(coordinator), resolution="ok")
    assert resolved.resolved_by_id == coordinator.pk
    assert not resolved.is_open
    second, created = alert_raise(kind="dicom.patient_mismatch", message="again", study_id=study.id)
    assert created
    assert second.pk != first.pk


def test_resolving_twice_is_refused(site_a, coordinator):
    alert, _ = alert_raise(kind="hl7.dead_letter", message="RIS refused", site_id=site_a.id)
    alert_resolve(alert_id=alert.pk, actor=Actor.for_user(coordinator))
    with pytest.raises(AlertAlreadyResolved):
        alert_resolve(alert_id=alert.pk, actor=Actor.for_user(coordinator))


# The console's alerts (issue 16): one list, acknowledge, snooze.

T0 = dt.datetime(2026, 12, 3, 13, 0, tzinfo=dt.UTC)


@pytest.fixture
def second_coordinator(db):
    user = factories.UserFactory(username="coord2")
    user.groups.add(Group.objects.get_or_create(name=COORDINATORS_GROUP)[0])
    return user


def test_raising_again_updates_the_open_alert_instead_of_piling_up(site_a):
    study = StudyFactory.create(site=site_a)
    first, _ = alert_raise(
        kind="hl7.dead_letter", message="failed 5 times", study_id=study.id, data={"n": 1}, at=T0
    )
    later = T0 + dt.timedelta(minutes=10)
    again, created = alert_raise(
        kind="hl7.dead_letter", message="failed 6 times", study_id=study.id, data={"n": 2}, at=later
    )
    assert not created
    assert again.pk == first.pk
    assert (again.message, again.data, again.raise_count) == ("failed 6 times", {"n": 2}, 2)
    assert (again.raised_at, again.last_raised_at) == (T0, later)
    assert CoordinatorAlert.objects.count() == 1
    # one history row: raised; raising again is counted on the alert, not written each time
    assert list(again.events.values_list("action", flat=True)) == ["raised"]


def test_two_kinds_for_one_study_are_two_alerts_and_the_database_refuses_a_second_open_one(
    site_a,
):
    study = StudyFactory.create(site=site_a)
    alert_raise(kind="routing.escalation", message="nobody", study_id=study.id)
    alert_raise(kind="dicom.patient_mismatch", message="PID", study_id=study.id)
    assert CoordinatorAlert.objects.filter(study=study).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        CoordinatorAlert.objects.create(
            kind="routing.escalation", study=study, message="dup", raised_at=timezone.now()
        )


def test_acknowledging_closes_the_alert_for_every_coordinator_with_who_and_when(
    site_a, coordinator, second_coordinator
):
    study = factories.ready_study(site_a, factories.WorklistFactory(code="msk"))
    alert, _ = alert_raise(kind="routing.escalation", message="nobody", study_id=study.id, at=T0)
    assert [a.id for a in console.open_alerts(user=second_coordinator)] == [alert.id]
    at = T0 + dt.timedelta(minutes=3)

    done = alert_acknowledge(alert_id=alert.id, user=coordinator, now=at)

    assert (done.resolved_at, done.resolved_by_id) == (at, coordinator.pk)
    assert done.resolution == CoordinatorAlert.ACKNOWLEDGED
    assert console.open_alerts(user=second_coordinator) == []
    assert console.open_alerts(user=coordinator) == []
    event = done.events.get(action=CoordinatorAlertEvent.Action.ACKNOWLEDGED)
    assert (event.at, event.actor_id, event.actor_label) == (at, coordinator.pk, "coord")
    with pytest.raises(AlertAlreadyResolved):
        alert_acknowledge(alert_id=alert.id, user=second_coordinator)
    # the condition arising again is a new alert, on the list again
    again, created = alert_raise(kind="routing.escalation", message="still", study_id=study.id)
    assert created
    assert [a.id for a in console.open_alerts(user=coordinator)] == [again.id]


def test_only_coordinators_acknowledge_or_snooze(site_a, owner, site_user):
    alert, _ = alert_raise(
        kind="routing.escalation", message="x", study_id=StudyFactory(site=site_a).id
    )
    for user in (owner.user, site_user):
        with pytest.raises(NotACoordinator):
            alert_acknowledge(alert_id=alert.id, user=user)
        with pytest.raises(NotACoordinator):
            alert_snooze(alert_id=alert.id, user=user, until=timezone.now() + dt.timedelta(hours=1))
        with pytest.raises(NotACoordinator):
            console.open_alerts(user=user)
    alert.refresh_from_db()
    assert alert.is_open
    assert alert.snoozed_until is None


def test_a_snoozed_alert_leaves_the_list_and_comes_back_by_itself_at_its_time(
    site_a, coordinator, second_coordinator
):
    study = StudyFactory.create(site=site_a)
    alert, _ = alert_raise(kind="hl7.dead_letter", message="RIS down", study_id=study.id, at=T0)
    until = T0 + dt.timedelta(minutes=45)

    alert_snooze(alert_id=alert.id, user=coordinator, until=until, now=T0)

    just_before = until - dt.timedelta(seconds=1)
    assert console.open_alerts(user=second_coordinator, now=just_before) == []
    assert [a.id for a in console.snoozed_alerts(user=second_coordinator, now=just_before)] == [
        alert.id
    ]
    assert console.open_alert_count(user=coordinator, now=just_before) == 0
    # nothing has to run: at its time it is on the list again
    assert [a.id for a in console.open_alerts(user=second_coordinator, now=until)] == [alert.id]
    assert console.snoozed_alerts(user=second_coordinator, now=until) == []
    assert console.open_alert_count(user=coordinator, now=until) == 1
    event = alert.events.get(action=CoordinatorAlertEvent.Action.SNOOZED)
    assert (event.snoozed_until, event.actor_id, event.at) == (until, coordinator.pk, T0)
    alert.refresh_from_db()
    assert (alert.snoozed_by_id, alert.is_open) == (coordinator.pk, True)


def test_raising_a_snoozed_alert_again_keeps_it_snoozed(site_a, coordinator):
    study = StudyFactory.create(site=site_a)
    alert, _ = alert_raise(kind="hl7.dead_letter", message="1", study_id=study.id, at=T0)
    until = T0 + dt.timedelta(hours=2)
    alert_snooze(alert_id=alert.id, user=coordinator, until=until, now=T0)
    again, _ = alert_raise(
        kind="hl7.dead_letter", message="2", study_id=study.id, at=T0 + dt.timedelta(minutes=5)
    )
    assert (again.snoozed_until, again.raise_count) == (until, 2)
    assert console.open_alerts(user=coordinator, now=T0 + dt.timedelta(minutes=6)) == []


def test_a_snooze_must_end_in_the_future_and_within_the_longest_snooze(
    site_a, coordinator, settings
):
    settings.CONSOLE_SNOOZE_MAX_HOURS = 24
    alert, _ = alert_raise(
        kind="hl7.dead_letter", message="x", study_id=StudyFactory(site=site_a).id
    )
    with pytest.raises(SnoozeRefused):
        alert_snooze(alert_id=alert.id, user=coordinator, until=T0, now=T0)
    with pytest.raises(SnoozeRefused):
        alert_snooze(alert_id=alert.id, user=coordinator, until=T0 + dt.timedelta(hours=25), now=T0)
    alert.refresh_from_db()
    assert alert.snoozed_until is None
    assert not alert.events.filter(action="snoozed").exists()


def test_the_list_is_ordered_by_urgency_the_least_time_left_first(site_a, coordinator):
    neuro = factories.WorklistFactory(code="neuro")
    now = timezone.now()
    later = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=5))
    sooner = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(minutes=20))
    overdue = factories.ready_study(site_a, neuro, deadline=now - dt.timedelta(minutes=5))
    no_study, _ = alert_raise(
        kind="patient.identifier_refused",
        message="p",
        patient_id=later.patient_id,
        site_id=site_a.id,
    )
    ids = {}
    for study in (later, sooner, overdue):
        ids[study.id], _ = alert_raise(kind="routing.escalation", message="m", study_id=study.id)
    listed = [a.id for a in console.open_alerts(user=coordinator)]
    assert listed == [ids[overdue.id].id, ids[sooner.id].id, ids[later.id].id, no_study.id]


def test_resolving_by_the_service_writes_its_history(site_a, coordinator):
    alert, _ = alert_raise(
        kind="report.critical_uncommunicated", message="x", study_id=StudyFactory(site=site_a).id
    )
    alert_resolve(alert_id=alert.pk, actor=Actor.for_user(coordinator), resolution="phoned")
    assert list(alert.events.values_list("action", "note")) == [
        ("raised", ""),
        ("resolved", "phoned"),
    ]


def test_an_acknowledgement_reaches_every_coordinators_page_after_commit_and_a_rollback_nothing(
    site_a, coordinator, django_capture_on_commit_callbacks
):
    study = StudyFactory.create(site=site_a)
    alert, _ = alert_raise(kind="routing.escalation", message="nobody", study_id=study.id)
    kept, _ = alert_raise(kind="hl7.dead_letter", message="RIS", study_id=study.id)

    def acknowledge_then_roll_back() -> None:
        with transaction.atomic():
            alert_acknowledge(alert_id=kept.id, user=coordinator)
            raise RuntimeError("rolled back")

    with GroupListener(live.ALL_SITES_GROUP) as sockets:
        with django_capture_on_commit_callbacks(execute=True):
            with pytest.raises(RuntimeError):
                acknowledge_then_roll_back()
            alert_acknowledge(alert_id=alert.id, user=coordinator)
        heard = sockets.messages(at_least=1)

    assert [(m["event"], m["study_id"]) for m in heard] == [(ALERT_EVENT, study.id)]
    kept.refresh_from_db()
    assert kept.is_open
