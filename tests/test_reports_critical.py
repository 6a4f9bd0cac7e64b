"""Critical findings: marked at signing, the report is not complete until a communication with
read-back is recorded; uncommunicated ones are escalated to coordinators after N minutes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from hl7_interface.models import OutboundMessage
from reports.models import CriticalCommunication, CriticalFinding
from reports.services.critical import ALERT_KIND, critical_findings_escalate
from reports.tasks import escalate_critical_findings
from tests import factories
from worklists.models import CoordinatorAlert

pytestmark = pytest.mark.django_db


def sign_critical(client, study, category="RED", **extra):
    client.put(
        reverse("api-report", args=[study.id]),
        {
            "sections": factories.report_sections(conclusion="Stor subdural blødning."),
            "revision": 0,
        },
        format="json",
    )
    response = client.post(
        reverse("api-report-sign", args=[study.id]),
        {"password": factories.PASSWORD, "critical_category": category, **extra},
        format="json",
    )
    assert response.status_code == 201, response.content
    return CriticalFinding.objects.get(study=study)


def communicate(client, study, read_back=True, at=None):
    return client.post(
        reverse("api-critical-communications", args=[study.id]),
        {
            "communicated_to": "Dr. Berg, LIS Alfa",
            "method": "PHONE",
            "communicated_at": (at or timezone.now()).isoformat(),
            "read_back_confirmed": read_back,
        },
        format="json",
    )


def report(client, study) -> dict:
    return client.get(reverse("api-report", args=[study.id])).json()


def test_a_critical_finding_keeps_the_report_incomplete_until_communicated(
    owner, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    finding = sign_critical(client, study)

    assert finding.category == "RED"
    assert finding.communicated_at is None
    before = report(client, study)
    assert before["complete"] is False
    assert before["versions"][0]["critical_finding"]["communicated_at"] is None

    response = communicate(client, study)

    assert response.status_code == 201, response.content
    assert response.json()["complete"] is True
    finding.refresh_from_db()
    assert finding.communicated_at is not None


def test_a_communication_without_read_back_does_not_complete_the_report(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    finding = sign_critical(client, study)

    response = communicate(client, study, read_back=False)

    assert response.status_code == 201
    assert response.json()["complete"] is False
    assert CriticalCommunication.objects.filter(finding=finding).count() == 1
    finding.refresh_from_db()
    assert finding.communicated_at is None


def test_a_signed_report_without_a_critical_finding_is_complete(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    client.put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(), "revision": 0},
        format="json",
    )
    client.post(reverse("api-report-sign", args=[study.id]), {"password": factories.PASSWORD})

    assert report(client, study)["complete"] is True
    assert communicate(client, study).status_code == 409


def test_the_communication_travels_with_the_delivered_report(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    sign_critical(client, study)
    final_delivery = OutboundMessage.objects.get(study=study)
    assert final_delivery.content["critical_finding_category"] == "RED"
    assert final_delivery.content["critical_communications"] == []

    communicate(client, study)

    redelivery = OutboundMessage.objects.filter(study=study).order_by("id").last()
    assert redelivery.id != final_delivery.id
    assert redelivery.result_status == "C"
    (sent,) = redelivery.content["critical_communications"]
    assert sent["communicated_to"] == "Dr. Berg, LIS Alfa"
    assert sent["read_back_confirmed"] is True
    assert sent["category"] == "RED"


def test_a_communication_made_before_signing_goes_out_with_the_final(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    finding = sign_critical(
        client,
        study,
        communication={
            "communicated_to": "Vakthavende kirurg",
            "method": "PHONE",
            "communicated_at": timezone.now().isoformat(),
            "read_back_confirmed": True,
        },
    )

    assert finding.communicated_at is not None
    (delivery,) = OutboundMessage.objects.filter(study=study)
    assert delivery.result_status == "F"
    assert delivery.content["critical_communications"][0]["communicated_to"] == (
        "Vakthavende kirurg"
    )


def test_an_unknown_category_is_refused(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    client.put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(), "revision": 0},
        format="json",
    )

    response = client.post(
        reverse("api-report-sign", args=[study.id]),
        {"password": factories.PASSWORD, "critical_category": "PURPLE"},
        format="json",
    )

    assert response.status_code == 400
    assert "critical_category" in response.json()["errors"]


def test_a_communication_in_the_future_is_refused(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    sign_critical(client, study)

    response = communicate(client, study, at=timezone.now() + dt.timedelta(hours=2))

    assert response.status_code == 400
    assert "communicated_at" in response.json()["errors"]


def test_the_signer_or_a_coordinator_records_the_communication(
    owner, other_radiologist, coordinator, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)
    sign_critical(client_for(owner.user), study)

    assert communicate(client_for(other_radiologist.user), study).status_code == 403
    assert communicate(client_for(coordinator), study).status_code == 201


def test_an_uncommunicated_finding_is_escalated_once_after_the_configured_minutes(
    owner, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)
    finding = sign_critical(client_for(owner.user), study)
    limit = dt.timedelta(minutes=settings.REPORTS_CRITICAL_COMMUNICATION_MINUTES)

    assert critical_findings_escalate(now=finding.flagged_at + limit - dt.timedelta(seconds=1)) == 0
    assert not CoordinatorAlert.objects.filter(kind=ALERT_KIND).exists()

    assert critical_findings_escalate(now=finding.flagged_at + limit) == 1
    alert = CoordinatorAlert.objects.get(kind=ALERT_KIND)
    assert alert.study_id == study.id
    assert alert.site_id == site_a.id
    assert study.accession_number in alert.message
    assert critical_findings_escalate(now=finding.flagged_at + 2 * limit) == 0
    assert CoordinatorAlert.objects.filter(kind=ALERT_KIND).count() == 1
    assert report(client_for(owner.user), study)["versions"][0]["critical_finding"]["escalated_at"]


def test_the_minutes_come_from_the_settings(owner, site_a, client_for, settings):
    settings.REPORTS_CRITICAL_COMMUNICATION_MINUTES = 5
    study = factories.held_study(owner, site=site_a)
    finding = sign_critical(client_for(owner.user), study)

    assert critical_findings_escalate(now=finding.flagged_at + dt.timedelta(minutes=5)) == 1


def test_a_communicated_finding_is_not_escalated(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    finding = sign_critical(client, study)
    communicate(client, study)

    assert critical_findings_escalate(now=finding.flagged_at + dt.timedelta(days=1)) == 0


def test_recording_the_communication_resolves_the_coordinator_alert(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    finding = sign_critical(client, study)
    critical_findings_escalate(now=finding.flagged_at + dt.timedelta(days=1))

    communicate(client, study)

    alert = CoordinatorAlert.objects.get(kind=ALERT_KIND, study=study)
    assert alert.resolved_at is not None
    assert "Dr. Berg" in alert.resolution


def test_the_escalation_runs_as_a_periodic_task(owner, site_a, client_for):
    entry = settings.CELERY_BEAT_SCHEDULE["reports-escalate-critical-findings"]
    assert entry["task"] == escalate_critical_findings.name
    study = factories.held_study(owner, site=site_a)
    finding = sign_critical(client_for(owner.user), study)
    CriticalFinding.objects.filter(id=finding.id).update(
        flagged_at=timezone.now() - dt.timedelta(days=1)
    )

    escalate_critical_findings.delay()

    assert CoordinatorAlert.objects.filter(kind=ALERT_KIND, study=study).exists()


def test_an_addendum_can_raise_a_new_finding_and_its_communication_goes_to_it(
    owner, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    first = sign_critical(client, study, category="RED")
    communicate(client, study)
    response = client.post(
        reverse("api-report-addenda", args=[study.id]),
        {
            "password": factories.PASSWORD,
            "kind": "ADDENDUM",
            "reason": "Nytt funn ved gjennomgang",
            "text": "Mistanke om lungeembolus i sagittalsnitt.",
            "critical_category": "ORANGE",
        },
        format="json",
    )
    assert response.status_code == 201
    assert report(client, study)["complete"] is False

    communicate(client, study)

    second = CriticalFinding.objects.exclude(id=first.id).get(study=study)
    assert second.category == "ORANGE"
    assert second.communicated_at is not None
    assert CriticalCommunication.objects.filter(finding=first).count() == 1
    assert report(client, study)["complete"] is True
