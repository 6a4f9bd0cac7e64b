"""The outbox and inbound messages in the admin: dead letters for coordinators, re-send,
reprocess."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from demo_ris.orders import OrderSpec, orm_o01
from hl7_interface.models import OutboundMessage, SiteHl7Config
from tests import factories
from worklists.models import AuditEvent, InboundMessage, Study
from worklists.services.inbound import inbound_mark_failed, inbound_store


@pytest.fixture
def staff_coordinator(coordinator):
    coordinator.is_staff = True
    coordinator.save(update_fields=["is_staff"])
    return coordinator


def _dead_letter(site):
    study = factories.StudyFactory(site=site)
    return OutboundMessage.objects.create(
        site=site,
        study=study,
        kind="REPORT",
        result_status="F",
        content={"result_status": "F"},
        status="DEAD",
        attempts=12,
        last_error="cannot connect to ris.alfa.example:2575: refused",
    )


def test_a_coordinator_sees_dead_letters_with_their_last_error(client, staff_coordinator, site_a):
    dead = _dead_letter(site_a)
    client.force_login(staff_coordinator)

    listing = client.get(reverse("admin:hl7_interface_outboundmessage_changelist") + "?status=DEAD")
    detail = client.get(reverse("admin:hl7_interface_outboundmessage_change", args=[dead.id]))

    assert listing.status_code == 200
    assert "cannot connect to ris.alfa.example:2575: refused" in listing.content.decode()
    assert detail.status_code == 200
    listed = AuditEvent.objects.get(actor=staff_coordinator, action="patient.list")
    assert (listed.object_type, listed.object_id) == ("outboundmessage", str(dead.id))
    assert listed.patient_id == dead.study.patient_id
    audit = AuditEvent.objects.get(actor=staff_coordinator, action="report.view")
    assert audit.object_id == str(dead.study_id)


def test_a_coordinator_resends_a_dead_letter_from_the_admin(client, staff_coordinator, site_a):
    dead = _dead_letter(site_a)
    client.force_login(staff_coordinator)

    response = client.post(
        reverse("admin:hl7_interface_outboundmessage_changelist"),
        {"action": "resend", "_selected_action": [dead.id]},
        follow=True,
    )

    assert response.status_code == 200
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("PENDING", 0)
    assert dead.next_attempt_at <= timezone.now()
    assert "re-send requested by coord" in dead.last_error


def test_staff_who_is_no_coordinator_sees_only_the_outbox_of_sites_they_read_for(
    client, outsider, site_a, site_b
):
    outsider.user.is_staff = True
    outsider.user.save(update_fields=["is_staff"])
    outsider.user.user_permissions.add(Permission.objects.get(codename="view_outboundmessage"))
    _dead_letter(site_a)
    theirs = _dead_letter(site_b)
    client.force_login(outsider.user)

    response = client.get(reverse("admin:hl7_interface_outboundmessage_changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [theirs]
    assert response.context["action_form"] is None  # no re-send for non-coordinators


@pytest.mark.django_db(transaction=True)
def test_a_failed_hl7_message_is_reprocessed_from_the_admin(client, superuser_factory, site_a):
    SiteHl7Config.objects.create(site=site_a)
    from hl7_interface import services

    services.sites.clear()
    factories.WorklistFactory(code="general", name="General", is_general=True)
    raw = orm_o01(OrderSpec("ACC-RE", fnr=factories.synthetic_fnr()), facility="ALFA")
    inbound = inbound_store(channel="HL7", raw=raw, site_id=site_a.id, message_id="RE-1")
    inbound_mark_failed(inbound_id=inbound.id, error="site was inactive")
    client.force_login(superuser_factory())

    response = client.post(
        reverse("admin:worklists_inboundmessage_changelist"),
        {"action": "reprocess", "_selected_action": [inbound.id]},
        follow=True,
    )

    assert "Reprocessed: 1 AA" in response.content.decode()
    assert InboundMessage.objects.get(id=inbound.id).status == "APPLIED"
    assert Study.objects.filter(accession_number="ACC-RE").exists()
    services.sites.clear()


@pytest.fixture
def superuser_factory(db):
    def make():
        return factories.UserFactory(username="root", is_staff=True, is_superuser=True)

    return make
