"""GET /api/v1/deliveries/dead and POST /api/v1/deliveries/{id}/resend: the console's
dead-lettered deliveries and their re-send, for a coordinator's scripts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from hl7_interface.delivery import DEAD_LETTER_ALERT
from hl7_interface.models import OutboundMessage
from tests import factories
from tests.hl7_support import hl7_site
from tests.test_console_failures import _dead_letter
from worklists.models import AuditEvent, CoordinatorAlert

pytestmark = pytest.mark.django_db
FIXTURES = (hl7_site,)


def test_a_coordinator_lists_the_dead_letters_with_their_last_error_and_it_is_audited(
    hl7_site, coordinator, client_for
):
    study = factories.StudyFactory(site=hl7_site, accession_number="ACC-DEAD")
    row = _dead_letter(study, error="connection refused by 10.0.0.9:2575")

    answer = client_for(coordinator).get(reverse("api-deliveries-dead"))

    assert answer.status_code == 200
    assert answer.json()["count"] == 1
    [listed] = answer.json()["messages"]
    assert listed["id"] == row.id
    assert listed["accession_number"] == "ACC-DEAD"
    assert listed["status"] == "DEAD"
    assert listed["attempts"] == 12
    assert listed["last_error"] == "connection refused by 10.0.0.9:2575"
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.STUDY_LIST,
        object_id=str(study.id),
        actor=coordinator,
        channel="api",
    ).exists()


def test_a_resend_puts_it_back_to_pending_and_closes_the_studys_alert(
    hl7_site, coordinator, client_for
):
    row = _dead_letter(factories.StudyFactory(site=hl7_site))

    answer = client_for(coordinator).post(reverse("api-delivery-resend", args=[row.id]))

    assert answer.status_code == 200
    assert (answer.json()["id"], answer.json()["status"]) == (row.id, "PENDING")
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("PENDING", 0)
    assert CoordinatorAlert.objects.get(kind=DEAD_LETTER_ALERT).resolved_by_id == coordinator.id
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.STUDY_LIST, object_id=str(row.study_id), actor=coordinator
    ).exists()  # the answer names the study


def test_a_delivery_not_dead_lettered_is_a_conflict_and_unchanged(
    hl7_site, coordinator, client_for
):
    row = _dead_letter(factories.StudyFactory(site=hl7_site))
    api = client_for(coordinator)
    api.post(reverse("api-delivery-resend", args=[row.id]))

    again = api.post(reverse("api-delivery-resend", args=[row.id]))

    assert again.status_code == 409
    assert "not dead-lettered" in str(again.json())
    assert OutboundMessage.objects.get(id=row.id).status == "PENDING"


def test_readers_and_site_staff_are_refused_and_nothing_changes(
    hl7_site, owner, site_user, client_for
):
    row = _dead_letter(factories.StudyFactory(site=hl7_site))
    for user in (owner.user, site_user):
        api = client_for(user)
        assert api.get(reverse("api-deliveries-dead")).status_code == 403
        assert api.post(reverse("api-delivery-resend", args=[row.id])).status_code == 403
    assert OutboundMessage.objects.get(id=row.id).status == "DEAD"


def test_an_unknown_delivery_is_not_found(coordinator, client_for):
    answer = client_for(coordinator).post(reverse("api-delivery-resend", args=[999999]))

    assert answer.status_code == 404


def test_both_endpoints_are_in_the_openapi_schema(client_for, coordinator):
    schema = client_for(coordinator).get(reverse("schema"), {"format": "json"}).json()

    assert "get" in schema["paths"]["/api/v1/deliveries/dead"]
    assert "post" in schema["paths"]["/api/v1/deliveries/{message_id}/resend"]
