"""The reading page, /studies/{id}/read/: the study, its priors from every visible site with
their reports, and the editor whose forms issue, sign, amend and return."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from hl7_interface.models import OutboundMessage
from reports.models import (
    CriticalFinding,
    ReferralRejection,
    ReportDraft,
    ReportTemplate,
    ReportVersion,
)
from reports.services.signing import report_sign
from tests import factories
from worklists.actors import Actor
from worklists.models import AiFinding, Assignment, AuditEvent, StudyStatus
from worklists.services.studies import study_reassign

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient():
    return factories.PatientFactory(
        family_name="Ødegård", given_name="Åse", sex="F", birth_date=dt.date(1950, 3, 14)
    )


@pytest.fixture
def study(owner, site_a, patient):
    return factories.held_study(
        owner,
        site=site_a,
        patient=patient,
        priority="URGENT",
        clinical_question="Hodepine, blødning?",
        referring_physician="Dr. Berg",
        procedure_text="CT caput uten kontrast",
    )


def signed_prior(radiologist, site, patient, findings: str, days_ago: int):
    prior = factories.held_study(
        radiologist,
        site=site,
        patient=patient,
        ordered_at=timezone.now() - dt.timedelta(days=days_ago),
        procedure_text="CT thorax",
    )
    ReportDraft.objects.create(
        study=prior,
        sections=factories.report_sections(findings=findings),
        author=radiologist.user,
        author_name=radiologist.display_name,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    report_sign(study_id=prior.id, user=radiologist.user, password=factories.PASSWORD)
    return prior


def page(client, user, study):
    client.force_login(user)
    return client.get(reverse("reading", args=[study.id]))


def test_the_page_shows_the_patient_the_order_and_the_viewer_link(owner, study, client):
    response = page(client, owner.user, study)

    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Ødegård, Åse",
        "Female",
        "Alfa sjukehus",
        "CT caput uten kontrast",
        "Urgent",
        "Hodepine, blødning?",
        "Dr. Berg",
        "data-countdown",
    ):
        assert text in html, text
    age = study.patient.age_on(timezone.localdate())
    assert f"{age} years" in html
    viewer = f"https://pacs.example.test/viewer?StudyInstanceUIDs={study.study_instance_uid}"
    assert f'href="{viewer}"' in html


def test_priors_from_every_visible_site_are_shown_with_their_reports(
    owner, other_radiologist, outsider, study, site_a, site_b, patient, client
):
    factories.credential(owner, site_b)
    from_b = signed_prior(outsider, site_b, patient, "Lungeembolier bilateralt.", days_ago=30)
    from_a = signed_prior(other_radiologist, site_a, patient, "Normal thorax.", days_ago=400)

    response = page(client, owner.user, study)

    html = response.content.decode()
    assert f'data-prior-id="{from_b.id}"' in html
    assert f'data-prior-id="{from_a.id}"' in html
    assert "Lungeembolier bilateralt." in html
    assert "Normal thorax." in html
    # Each prior report shown is a read of that report.
    audited = set(
        AuditEvent.objects.filter(actor=owner.user, action="report.view").values_list(
            "object_id", flat=True
        )
    )
    assert audited == {str(from_a.id), str(from_b.id)}
    assert AuditEvent.objects.filter(
        actor=owner.user, action="study.view", object_id=str(study.id)
    ).exists()


def test_priors_of_sites_the_reader_may_not_see_are_left_out(
    owner, outsider, study, site_b, patient, client
):
    hidden = signed_prior(outsider, site_b, patient, "Hemmelig.", days_ago=10)

    html = page(client, owner.user, study).content.decode()

    assert f'data-prior-id="{hidden.id}"' not in html
    assert "Hemmelig." not in html


def test_ai_findings_are_shown(owner, study, client):
    AiFinding.objects.create(
        study=study,
        code="ICH",
        description="Suspected intracranial haemorrhage",
        confidence=Decimal("0.930"),
        is_critical=True,
        source="NeuroAI 2",
        reported_at=timezone.now(),
    )

    html = page(client, owner.user, study).content.decode()

    assert 'data-ai-finding="ICH"' in html
    assert "Suspected intracranial haemorrhage" in html
    assert "93%" in html


def test_the_editor_opens_with_the_template_of_the_procedure(owner, study, client):
    template = ReportTemplate.objects.create(name="CT caput", procedure_code=study.procedure_code)
    template.sections.create(position=1, key="findings", title="Funn", default_text="Ingen ")
    template.sections.create(position=2, key="conclusion", title="Konklusjon")

    html = page(client, owner.user, study).content.decode()

    assert 'data-section-key="findings"' in html
    assert ">Funn</label>" in html
    assert ">Ingen </textarea>" in html
    assert 'data-section-key="technique"' not in html


def test_without_a_template_the_editor_has_the_four_standard_sections(owner, study, client):
    html = page(client, owner.user, study).content.decode()

    for key in ("clinical_information", "technique", "findings", "conclusion"):
        assert f'data-section-key="{key}"' in html
    # The clinical question starts the clinical information.
    assert ">Hodepine, blødning?</textarea>" in html


def test_the_next_reader_sees_who_wrote_the_draft(
    owner, other_radiologist, coordinator, study, client
):
    ReportDraft.objects.create(
        study=study,
        sections=factories.report_sections(findings="Påbegynt"),
        author=owner.user,
        author_name=owner.display_name,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    study_reassign(
        study_id=study.id,
        radiologist_id=other_radiologist.id,
        actor=Actor.for_user(coordinator),
        reason="owner ill",
    )

    html = page(client, other_radiologist.user, study).content.decode()

    assert "data-previous-author" in html
    assert f"Draft written by {owner.display_name}" in html
    assert ">Påbegynt</textarea>" in html


def form(sections, revision=0, **extra) -> dict:
    data = {"section_count": len(sections), "revision": revision, **extra}
    for index, section in enumerate(sections):
        data[f"sections-{index}-key"] = section["key"]
        data[f"sections-{index}-title"] = section["title"]
        data[f"sections-{index}-text"] = section["text"]
    return data


def test_signing_from_the_page_marks_the_report_for_delivery(owner, study, client):
    client.force_login(owner.user)
    sections = factories.report_sections(findings="Ingen blødning.")

    response = client.post(
        reverse("reading-sign", args=[study.id]),
        form(sections, password=factories.PASSWORD),
        follow=True,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Report signed and marked for delivery (F)." in html
    assert 'data-delivery="PENDING"' in html
    version = ReportVersion.objects.get(study=study)
    assert version.sections[2]["text"] == "Ingen blødning."
    assert OutboundMessage.objects.get(study=study).result_status == "F"


def test_a_wrong_password_on_the_page_signs_nothing_and_keeps_the_text(owner, study, client):
    client.force_login(owner.user)
    sections = factories.report_sections(findings="Tekst som ikke må gå tapt.")

    response = client.post(
        reverse("reading-sign", args=[study.id]), form(sections, password="feil")
    )

    assert response.status_code == 403
    html = response.content.decode()
    assert "the password is not correct; nothing was signed" in html
    assert ">Tekst som ikke må gå tapt.</textarea>" in html
    assert not ReportVersion.objects.exists()
    assert not OutboundMessage.objects.exists()


def test_a_preliminary_from_the_page_is_delivered_as_p(owner, study, client):
    client.force_login(owner.user)

    response = client.post(
        reverse("reading-preliminary", args=[study.id]),
        form(factories.report_sections()),
        follow=True,
    )

    assert "Preliminary report issued" in response.content.decode()
    study.refresh_from_db()
    assert study.status == StudyStatus.PRELIMINARY
    assert OutboundMessage.objects.get(study=study).result_status == "P"


def test_the_page_records_a_critical_communication(owner, study, client):
    client.force_login(owner.user)
    client.post(
        reverse("reading-sign", args=[study.id]),
        form(factories.report_sections(), password=factories.PASSWORD, critical_category="RED"),
    )
    assert "not complete" in page(client, owner.user, study).content.decode()

    response = client.post(
        reverse("reading-communication", args=[study.id]),
        {
            "communicated_to": "Dr. Berg",
            "method": "PHONE",
            "communicated_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "read_back_confirmed": "on",
        },
        follow=True,
    )

    html = response.content.decode()
    assert "the report is complete" in html
    assert "data-complete" in html


def test_the_signer_adds_an_addendum_from_the_page(owner, study, client):
    client.force_login(owner.user)
    client.post(
        reverse("reading-sign", args=[study.id]),
        form(factories.report_sections(), password=factories.PASSWORD),
    )

    response = client.post(
        reverse("reading-addendum", args=[study.id]),
        {
            "text": "Tillegg etter samtale.",
            "reason": "Klinisk info",
            "password": factories.PASSWORD,
        },
        follow=True,
    )

    assert "Addendum signed and marked for delivery (C)." in response.content.decode()
    assert ReportVersion.objects.get(study=study, number=2).kind == "ADDENDUM"


def test_the_holder_returns_the_referral_from_the_page(owner, study, client):
    client.force_login(owner.user)

    response = client.post(
        reverse("reading-reject", args=[study.id]),
        {"reason": "NOT_INDICATED", "comment": "MR er bedre egnet"},
        follow=True,
    )

    assert "Referral returned to the site." in response.content.decode()
    assert ReferralRejection.objects.get(study=study).reason == "NOT_INDICATED"


def test_a_coordinator_reads_the_page_without_an_editor(owner, coordinator, study, client):
    html = page(client, coordinator, study).content.decode()

    assert "Ødegård, Åse" in html
    assert 'id="report-form"' not in html


def test_a_reader_of_another_site_gets_a_404(outsider, study, client):
    assert page(client, outsider.user, study).status_code == 404


def test_someone_else_posting_the_sign_form_is_refused(other_radiologist, study, client):
    client.force_login(other_radiologist.user)

    response = client.post(
        reverse("reading-sign", args=[study.id]),
        form(factories.report_sections(), password=factories.PASSWORD),
    )

    assert response.status_code == 403
    assert not ReportVersion.objects.exists()


def test_opening_the_page_keeps_the_holders_claim_alive(owner, other_radiologist, study, client):
    assignment = Assignment.objects.get(study=study, ended_at__isnull=True)
    assert assignment.last_activity_at is None

    page(client, other_radiologist.user, study)
    assignment.refresh_from_db()
    assert assignment.last_activity_at is None

    page(client, owner.user, study)
    assignment.refresh_from_db()
    assert assignment.last_activity_at is not None


def test_the_signer_corrects_the_report_from_the_page(owner, study, client):
    client.force_login(owner.user)
    client.post(
        reverse("reading-sign", args=[study.id]),
        form(factories.report_sections(), password=factories.PASSWORD),
    )
    corrected = factories.report_sections(conclusion="Liten subdural blødning.")

    response = client.post(
        reverse("reading-correction", args=[study.id]),
        form(corrected, reason="Oversett blødning", password=factories.PASSWORD),
        follow=True,
    )

    assert "Correction signed and marked for delivery (C)." in response.content.decode()
    version = ReportVersion.objects.get(study=study, number=2)
    assert (version.kind, version.reason) == ("CORRECTION", "Oversett blødning")
    assert version.sections[3]["text"] == "Liten subdural blødning."
    assert OutboundMessage.objects.filter(study=study).last().result_status == "C"


def test_a_delivery_being_retried_says_why(owner, study, client):
    client.force_login(owner.user)
    client.post(
        reverse("reading-sign", args=[study.id]),
        form(factories.report_sections(), password=factories.PASSWORD),
    )
    OutboundMessage.objects.filter(study=study).update(
        attempts=2, last_error="the site has no RIS endpoint configured"
    )

    html = page(client, owner.user, study).content.decode()

    assert "retrying after 2 attempts: the site has no RIS endpoint configured" in html


def test_an_addendum_from_the_page_can_raise_a_critical_finding(owner, study, client):
    client.force_login(owner.user)
    client.post(
        reverse("reading-sign", args=[study.id]),
        form(factories.report_sections(), password=factories.PASSWORD),
    )

    client.post(
        reverse("reading-addendum", args=[study.id]),
        {
            "text": "Lungeembolus i høyre underlapp.",
            "reason": "Ny vurdering",
            "password": factories.PASSWORD,
            "critical_category": "ORANGE",
        },
    )

    finding = CriticalFinding.objects.get(study=study)
    assert (finding.category, finding.version.kind) == ("ORANGE", "ADDENDUM")
    assert "not complete" in page(client, owner.user, study).content.decode()
