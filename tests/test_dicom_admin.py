"""The admin lists refused associations and failed instances, read-only; image state is
scoped and audited like every other patient datum; site DICOM settings stay editable."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from dicom.models import DicomSiteSettings, FailedInstance, RejectedAssociation, StudyImages
from tests import factories
from worklists.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client):
    user = factories.UserFactory(username="dicom-boss")
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return user


def images_of(study) -> StudyImages:
    now = timezone.now()
    return StudyImages.objects.create(
        study=study, study_instance_uid="1.2.3", first_instance_at=now, last_instance_at=now
    )


def test_rejected_associations_are_listed_with_their_reason(client, superuser):
    RejectedAssociation.objects.create(
        at=timezone.now(),
        calling_ae_title="STRANGER",
        called_ae_title="TELERAD",
        peer_address="10.9.8.7",
        reason="calling AE title 'STRANGER' belongs to no site",
    )

    page = client.get(reverse("admin:dicom_rejectedassociation_changelist"))

    assert page.status_code == 200
    assert "belongs to no site" in page.content.decode()
    assert client.get(reverse("admin:dicom_rejectedassociation_add")).status_code == 403


def test_failed_instances_are_kept_and_cannot_be_deleted_from_the_admin(client, superuser):
    failure = FailedInstance.objects.create(
        received_at=timezone.now(), status=0xA900, error="StudyInstanceUID is missing", raw=b"x"
    )

    listing = client.get(reverse("admin:dicom_failedinstance_changelist"))
    delete = client.post(reverse("admin:dicom_failedinstance_delete", args=[failure.id]))

    assert listing.status_code == 200
    assert "0xA900" in listing.content.decode()
    assert delete.status_code == 403
    assert FailedInstance.objects.filter(id=failure.id).exists()


def test_viewing_image_state_in_the_admin_writes_an_audit_row(client, superuser, site_a):
    images = images_of(factories.StudyFactory(site=site_a))

    page = client.get(reverse("admin:dicom_studyimages_change", args=[images.id]))

    assert page.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id, event.channel) == (
        "study.view",
        str(images.study_id),
        "admin",
    )


def test_the_image_state_list_is_scoped_to_the_studies_one_may_see(
    client, outsider, site_a, site_b
):
    outsider.user.is_staff = True
    outsider.user.save()
    outsider.user.user_permissions.add(Permission.objects.get(codename="view_studyimages"))
    theirs = images_of(factories.StudyFactory(site=site_b, accession_number="SEEN"))
    hidden = images_of(factories.StudyFactory(site=site_a, accession_number="HIDDEN"))
    client.force_login(outsider.user)

    listing = client.get(reverse("admin:dicom_studyimages_changelist")).content.decode()
    hidden_page = client.get(reverse("admin:dicom_studyimages_change", args=[hidden.id]))

    assert "SEEN" in listing
    assert "HIDDEN" not in listing
    assert hidden_page.status_code == 302
    assert theirs.study.site_id == site_b.id


def test_site_dicom_settings_are_editable(client, superuser, site_a):
    response = client.post(
        reverse("admin:dicom_dicomsitesettings_add"),
        {"site": site_a.id, "images_only": "on", "allowed_source_addresses": "192.0.2.10"},
    )

    assert response.status_code == 302
    settings_row = DicomSiteSettings.objects.get(site=site_a)
    assert settings_row.images_only
    assert settings_row.allowed_source_addresses == "192.0.2.10"
