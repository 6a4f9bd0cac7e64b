"""Coordinator alerts: raised once per open kind and study, resolved once."""

from __future__ import annotations

import pytest

from tests.factories import StudyFactory
from worklists.actors import Actor
from worklists.models import CoordinatorAlert
from worklists.services.alerts import AlertAlreadyResolved, alert_raise, alert_resolve

pytestmark = pytest.mark.django_db


def test_raising_the_same_open_alert_twice_keeps_one_alert(site_a) -> None:
    study = StudyFactory.create(site=site_a)
    first, created = alert_raise(kind="routing.escalation", message="nobody", study_id=study.id)
    again, created_again = alert_raise(kind="routing.escalation", message="x", study_id=study.id)
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert first.site_id == site_a.id
    assert CoordinatorAlert.objects.count() == 1


def test_a_resolved_alert_can_be_raised_anew(site_a, coordinator) -> None:
    study = StudyFactory.create(site=site_a)
    first, _ = alert_raise(kind="dicom.patient_mismatch", message="PID differs", study_id=study.id)
    resolved = alert_resolve(alert_id=first.pk, actor=Actor.for_user(coordinator), resolution="ok")
    assert resolved.resolved_by_id == coordinator.pk
    assert not resolved.is_open
    second, created = alert_raise(kind="dicom.patient_mismatch", message="again", study_id=study.id)
    assert created
    assert second.pk != first.pk


def test_resolving_twice_is_refused(site_a, coordinator) -> None:
    alert, _ = alert_raise(kind="hl7.dead_letter", message="RIS refused", site_id=site_a.id)
    alert_resolve(alert_id=alert.pk, actor=Actor.for_user(coordinator))
    with pytest.raises(AlertAlreadyResolved):
        alert_resolve(alert_id=alert.pk, actor=Actor.for_user(coordinator))
