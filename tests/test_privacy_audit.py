"""The audit a privacy officer can use: refused reads, admin lists and the audit trail's own
reads are recorded; the privacy page is for privacy officers only, flags unusual access, and
its CSV holds the rows of its table."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests import factories
from worklists.access import PRIVACY_OFFICERS_GROUP
from worklists.actors import Actor
from worklists.models import AuditEvent, PatientIdentifier, SiteMembership
from worklists.services.audit import AccessContext, audit_study_reads
from worklists.services.studies import study_assign

pytestmark = pytest.mark.django_db


@pytest.fixture
def privacy_officer(db):
    user = factories.UserFactory(username="personvern")
    user.groups.add(Group.objects.get(name=PRIVACY_OFFICERS_GROUP))
    return user


@pytest.fixture
def staff_privacy_officer(privacy_officer):
    privacy_officer.is_staff = True
    privacy_officer.save()
    return privacy_officer


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def opened(user, study, action=AuditEvent.Action.STUDY_VIEW) -> None:
    audit_study_reads(
        context=AccessContext(user_id=user.pk, actor_label=user.username, channel="web"),
        studies=[study],
        action=action,
    )


# --- what is recorded ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["study", "reading"],
)
def test_a_refused_page_read_is_audited_with_the_patient(outsider, site_a, url):
    study = factories.StudyFactory(site=site_a)

    response = web(outsider.user).get(reverse(url, args=[study.id]), REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 404
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id, event.actor_id) == (
        "study.refused",
        str(study.id),
        outsider.user_id,
    )
    assert (event.patient_id, event.site_id, event.remote_addr) == (
        study.patient_id,
        site_a.id,
        "192.0.2.7",
    )


def test_a_refused_api_read_is_audited_and_a_missing_study_names_no_patient(
    client_for, outsider, site_a
):
    study = factories.StudyFactory(site=site_a)
    client = client_for(outsider.user)

    assert client.get(f"/api/v1/studies/{study.id}").status_code == 404
    assert client.get(f"/api/v1/studies/{study.id + 1000}/report").status_code == 404

    refused = list(AuditEvent.objects.order_by("id").values_list("action", "patient_id", "channel"))
    assert refused == [
        ("study.refused", study.patient_id, "api"),
        ("study.refused", None, "api"),
    ]


def test_an_admin_list_showing_patient_names_is_audited(superuser_client, site_a):
    shown = [factories.StudyFactory(site=site_a) for _ in range(3)]

    response = superuser_client.get(reverse("admin:worklists_patient_changelist"))

    assert response.status_code == 200
    listed = AuditEvent.objects.filter(action="patient.list")
    assert sorted(listed.values_list("patient_id", flat=True)) == sorted(
        s.patient_id for s in shown
    )
    assert set(listed.values_list("channel", "object_type")) == {("admin", "patient")}


def test_an_admin_list_of_studies_is_audited_per_row(superuser_client, site_a):
    study = factories.StudyFactory(site=site_a)

    superuser_client.get(reverse("admin:worklists_study_changelist"))

    event = AuditEvent.objects.get(action="patient.list")
    assert (event.object_type, event.object_id, event.patient_id, event.site_id) == (
        "study",
        str(study.id),
        study.patient_id,
        site_a.id,
    )


def test_reading_the_audit_log_in_the_admin_is_audited(staff_privacy_officer, site_a):
    study = factories.StudyFactory(site=site_a)
    opened(staff_privacy_officer, study)
    client = web(staff_privacy_officer)

    listing = client.get(reverse("admin:worklists_auditevent_changelist"))
    first = AuditEvent.objects.order_by("id").first()
    detail = client.get(reverse("admin:worklists_auditevent_change", args=[first.id]))

    assert (listing.status_code, detail.status_code) == (200, 200)
    reads = AuditEvent.objects.filter(action="audit.view").order_by("id")
    assert [(e.object_type, e.channel) for e in reads] == [("audit", "admin"), ("audit", "admin")]
    assert reads.last().patient_id == study.patient_id


def test_the_audit_admin_is_searchable_by_patient_number_and_period(
    staff_privacy_officer, owner, site_a
):
    mine, other = factories.StudyFactory(site=site_a), factories.StudyFactory(site=site_a)
    opened(owner.user, mine)
    opened(owner.user, other)
    fnr = PatientIdentifier.objects.get(patient=mine.patient, kind="FNR").value
    client = web(staff_privacy_officer)
    url = reverse("admin:worklists_auditevent_changelist")

    by_number = client.get(url, {"q": fnr})
    by_id = client.get(url, {"q": f"id:{other.patient_id}"})
    # The admin's date filter is by the local day: from Oslo's midnight to UTC's, the UTC date
    # of a read is yesterday.
    today = timezone.localtime(AuditEvent.objects.first().at)
    by_day = client.get(
        url, {"at__year": today.year, "at__month": today.month, "at__day": today.day}
    )

    assert [e.patient_id for e in by_number.context["cl"].result_list] == [mine.patient_id]
    assert [e.patient_id for e in by_id.context["cl"].result_list] == [other.patient_id]
    assert by_day.context["cl"].result_count >= 2


def test_a_coordinator_without_the_privacy_role_cannot_read_the_audit_admin(coordinator):
    coordinator.is_staff = True
    coordinator.save()

    response = web(coordinator).get(reverse("admin:worklists_auditevent_changelist"))

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.view").exists()


# --- the privacy page ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "coordinator", "site_user", "outsider"])
def test_the_privacy_page_is_for_privacy_officers_only(request, who):
    persona = request.getfixturevalue(who)
    user = getattr(persona, "user", persona)

    page = web(user).get(reverse("privacy"))
    export = web(user).get(reverse("privacy-csv"))

    assert (page.status_code, export.status_code) == (403, 403)
    assert not AuditEvent.objects.exists()


def test_the_privacy_page_lists_who_opened_a_patients_data(privacy_officer, owner, site_a):
    study = factories.StudyFactory(site=site_a)
    other = factories.StudyFactory(site=site_a)
    audit_study_reads(
        context=AccessContext(
            user_id=owner.user_id,
            actor_label="owner",
            channel="web",
            remote_addr="198.51.100.4",
        ),
        studies=[study, other],
        action=AuditEvent.Action.STUDY_VIEW,
    )

    response = web(privacy_officer).get(reverse("privacy"), {"patient": f"id:{study.patient_id}"})

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r.event.patient_id, r.event.actor_label, r.role) for r in rows] == [
        (study.patient_id, "owner", "radiologist")
    ]
    assert rows[0].event.remote_addr == "198.51.100.4"
    read = AuditEvent.objects.get(action="audit.view")
    assert (read.actor_id, read.patient_id) == (privacy_officer.id, study.patient_id)


def test_the_privacy_page_filters_by_user_and_period(
    privacy_officer, owner, other_radiologist, site_a
):
    study = factories.StudyFactory(site=site_a)
    opened(owner.user, study)
    opened(other_radiologist.user, study)
    AuditEvent.objects.filter(actor_label="other").update(at="2020-01-01T12:00Z")
    client = web(privacy_officer)

    recent = client.get(reverse("privacy"), {"user": "other"}).context["rows"]
    old = client.get(
        reverse("privacy"), {"user": "other", "start": "2020-01-01", "end": "2020-01-01"}
    ).context["rows"]

    assert recent == []
    assert [r.event.actor_label for r in old] == ["other"]


def test_a_reader_opening_a_study_outside_their_queue_is_flagged(
    privacy_officer, owner, other_radiologist, site_a, neuro
):
    chest = factories.WorklistFactory(code="chest")
    theirs = factories.ready_study(site_a, chest)
    in_queue = factories.ready_study(site_a, neuro)
    assigned = factories.ready_study(site_a, chest)
    study_assign(study_id=assigned.id, radiologist_id=owner.id, actor=Actor.system("test"))
    for study in (theirs, in_queue, assigned):
        opened(owner.user, study)

    rows = web(privacy_officer).get(reverse("privacy")).context["rows"]

    flagged = {int(r.event.object_id) for r in rows if "reader outside queue" in r.flags}
    assert flagged == {theirs.id}


def test_a_site_user_reading_many_patients_is_flagged(privacy_officer, site_user, site_a, settings):
    settings.PRIVACY_MANY_PATIENTS_THRESHOLD = 3
    studies = [factories.StudyFactory(site=site_a) for _ in range(4)]
    for study in studies:
        opened(site_user, study)
    calm = factories.UserFactory(username="calm")
    SiteMembership.objects.create(user=calm, site=site_a)
    for study in studies[:3]:
        opened(calm, study)

    response = web(privacy_officer).get(reverse("privacy"), {"flagged": "1"})

    assert response.context["heavy_users"] == [("alfa-desk", 4)]
    assert {r.event.actor_label for r in response.context["rows"]} == {"alfa-desk"}
    assert all(r.flags == ("many patients",) for r in response.context["rows"])


def test_the_csv_holds_the_rows_of_the_table(privacy_officer, owner, site_user, site_a, neuro):
    studies = [factories.StudyFactory(site=site_a) for _ in range(3)]
    for study in studies:
        opened(owner.user, study)
        opened(site_user, study, AuditEvent.Action.REPORT_VIEW)
    client = web(privacy_officer)
    query = {"user": "alfa-desk"}

    table = client.get(reverse("privacy"), query).context["rows"]
    export = client.get(reverse("privacy-csv"), query)

    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [(line["user"], line["object_id"], line["action"]) for line in lines] == [
        (r.event.actor_label, r.event.object_id, r.event.action) for r in table
    ]
    assert len(lines) == 3
    assert {line["role"] for line in lines} == {"site user"}
    assert AuditEvent.objects.filter(action="audit.view").count() == 2  # the page and the CSV


@pytest.fixture
def superuser_client(db):
    user = factories.UserFactory(username="boss")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return web(user)
