"""The admin shows patient data read-only, scoped and audited; configuration stays editable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import factories
from worklists.models import AuditEvent, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for(client):
    def make(user):
        client.force_login(user)
        return client

    return make


@pytest.fixture
def superuser():
    user = factories.UserFactory(username="boss")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return user


def test_viewing_a_study_in_the_admin_writes_an_audit_row(admin_client_for, superuser, site_a):
    study = factories.StudyFactory(site=site_a)

    response = admin_client_for(superuser).get(
        reverse("admin:worklists_study_change", args=[study.id])
    )

    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id, event.channel) == ("study.view", str(study.id), "admin")
    assert event.patient_id == study.patient_id


def test_viewing_a_patient_in_the_admin_writes_an_audit_row(admin_client_for, superuser):
    patient = factories.PatientFactory()

    response = admin_client_for(superuser).get(
        reverse("admin:worklists_patient_change", args=[patient.id])
    )

    assert response.status_code == 200
    assert AuditEvent.objects.get().action == "patient.view"


def test_a_study_cannot_be_edited_through_the_admin(admin_client_for, superuser, site_a):
    study = factories.StudyFactory(site=site_a, priority="ROUTINE")

    response = admin_client_for(superuser).post(
        reverse("admin:worklists_study_change", args=[study.id]), {"priority": "STAT"}
    )

    assert response.status_code == 403
    study.refresh_from_db()
    assert study.priority == "ROUTINE"
    assert not study.events.exists()


@pytest.mark.parametrize("url", ["admin:worklists_study_add", "admin:worklists_assignment_add"])
def test_studies_and_assignments_cannot_be_added_through_the_admin(
    admin_client_for, superuser, url
):
    assert admin_client_for(superuser).get(reverse(url)).status_code == 403


def test_the_admin_study_list_is_scoped_like_everything_else(
    admin_client_for, outsider, site_a, site_b
):
    outsider.user.is_staff = True
    outsider.user.save()
    theirs = factories.StudyFactory(site=site_b)
    hidden = factories.StudyFactory(site=site_a)
    from django.contrib.auth.models import Permission

    outsider.user.user_permissions.add(Permission.objects.get(codename="view_study"))

    client = admin_client_for(outsider.user)
    listing = client.get(reverse("admin:worklists_study_changelist"))
    hidden_page = client.get(reverse("admin:worklists_study_change", args=[hidden.id]))

    assert listing.status_code == 200
    assert theirs.accession_number in listing.content.decode()
    assert hidden.accession_number not in listing.content.decode()
    assert hidden_page.status_code == 302  # the admin's "does not exist" redirect
    assert Study.objects.count() == 2


def test_sites_and_rules_stay_editable_configuration(admin_client_for, superuser, site_a):
    client = admin_client_for(superuser)

    assert client.get(reverse("admin:worklists_site_change", args=[site_a.id])).status_code == 200
    assert client.get(reverse("admin:worklists_classificationrule_add")).status_code == 200


def test_the_admin_patient_list_shows_only_patients_of_visible_sites(
    admin_client_for, outsider, site_a, site_b
):
    from django.contrib.auth.models import Permission

    outsider.user.is_staff = True
    outsider.user.save()
    outsider.user.user_permissions.add(Permission.objects.get(codename="view_patient"))
    theirs = factories.StudyFactory(site=site_b, patient__family_name="Synlig")
    hidden = factories.StudyFactory(site=site_a, patient__family_name="Skjult")

    client = admin_client_for(outsider.user)
    listing = client.get(reverse("admin:worklists_patient_changelist")).content.decode()
    hidden_page = client.get(reverse("admin:worklists_patient_change", args=[hidden.patient_id]))

    assert theirs.patient.family_name in listing
    assert hidden.patient.family_name not in listing
    assert hidden_page.status_code == 302
    # The list is audited for the patient it showed; the refused page wrote nothing.
    assert list(AuditEvent.objects.values_list("action", "patient_id")) == [
        ("patient.list", theirs.patient_id)
    ]


def _staff_with(user, *codenames):
    from django.contrib.auth.models import Permission

    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_raw_inbound_messages_are_scoped_by_site_and_each_view_is_audited(
    admin_client_for, outsider, site_a, site_b
):
    from worklists.models import InboundMessage
    from worklists.services.inbound import inbound_store

    mine = inbound_store(channel="HL7", site_id=site_b.id, raw=b"MSH|^~\\&|B", peer="10.0.0.2")
    hidden = inbound_store(channel="HL7", site_id=site_a.id, raw=b"MSH|^~\\&|A", peer="10.0.0.1")
    unknown = inbound_store(channel="HL7", site_id=None, raw=b"MSH|^~\\&|X", peer="10.0.0.9")
    client = admin_client_for(_staff_with(outsider.user, "view_inboundmessage"))

    own_page = client.get(reverse("admin:worklists_inboundmessage_change", args=[mine.id]))
    hidden_page = client.get(reverse("admin:worklists_inboundmessage_change", args=[hidden.id]))
    unknown_page = client.get(reverse("admin:worklists_inboundmessage_change", args=[unknown.id]))

    assert own_page.status_code == 200
    assert hidden_page.status_code == 302
    assert unknown_page.status_code == 302
    event = AuditEvent.objects.get()
    assert (event.object_type, event.object_id, event.site_id) == (
        "inbound_message",
        str(mine.id),
        site_b.id,
    )
    assert InboundMessage.objects.count() == 3


def test_coordinator_alerts_are_scoped_like_their_studies_and_views_audited(
    admin_client_for, outsider, coordinator, site_a, site_b
):
    from worklists.services.alerts import alert_raise

    theirs = factories.StudyFactory(site=site_b)
    hidden = factories.StudyFactory(site=site_a)
    visible, _ = alert_raise(kind="dicom.patient_mismatch", message="PID", study_id=theirs.id)
    secret, _ = alert_raise(kind="dicom.patient_mismatch", message="PID", study_id=hidden.id)
    client = admin_client_for(_staff_with(outsider.user, "view_coordinatoralert"))

    assert (
        client.get(reverse("admin:worklists_coordinatoralert_change", args=[secret.id])).status_code
        == 302
    )
    page = client.get(reverse("admin:worklists_coordinatoralert_change", args=[visible.id]))

    assert page.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.object_type, event.patient_id) == ("coordinator_alert", theirs.patient_id)
    _staff_with(coordinator, "view_coordinatoralert")
    listing = admin_client_for(coordinator).get(
        reverse("admin:worklists_coordinatoralert_changelist")
    )
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 2
