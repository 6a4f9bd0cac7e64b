"""Report templates: kept in the admin, per procedure code (optionally per modality) or per
worklist; the most specific active one starts the editor."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from reports.models import ReportDraft, ReportTemplate
from reports.selectors import starting_sections, template_for_study
from tests import factories

pytestmark = pytest.mark.django_db


def make(name: str, **kwargs) -> ReportTemplate:
    template = ReportTemplate.objects.create(name=name, **kwargs)
    template.sections.create(position=1, key="findings", title=f"{name} funn")
    return template


@pytest.fixture
def study(site_a, neuro):
    return factories.StudyFactory(
        site=site_a, worklist=neuro, modality="CT", procedure_code="NCRP-CT-HEAD"
    )


def test_a_procedure_template_wins_over_the_worklists(study, neuro):
    make("Nevro", worklist=neuro)
    procedure = make("CT caput", procedure_code="NCRP-CT-HEAD")

    assert template_for_study(study=study) == procedure


def test_a_procedure_template_for_another_modality_is_passed_over(study, neuro):
    make("MR caput", procedure_code="NCRP-CT-HEAD", modality="MR")
    worklist = make("Nevro", worklist=neuro)

    assert template_for_study(study=study) == worklist


def test_inactive_templates_are_not_used(study, neuro):
    make("Gammel", procedure_code="NCRP-CT-HEAD", is_active=False)

    assert template_for_study(study=study) is None
    assert [s["key"] for s in starting_sections(study=study)] == [
        "clinical_information",
        "technique",
        "findings",
        "conclusion",
    ]


def test_the_template_sections_start_the_editor_in_their_order(study):
    template = ReportTemplate.objects.create(name="CT caput", procedure_code="NCRP-CT-HEAD")
    template.sections.create(position=2, key="conclusion", title="Konklusjon")
    template.sections.create(position=1, key="findings", title="Funn", default_text="Normal.")

    assert starting_sections(study=study) == [
        {"key": "findings", "title": "Funn", "text": "Normal."},
        {"key": "conclusion", "title": "Konklusjon", "text": ""},
    ]


def test_the_draft_remembers_its_template(owner, site_a, neuro, client_for):
    template = make("CT caput", procedure_code="NCRP-CT-HEAD")
    study = factories.held_study(owner, site=site_a, procedure_code="NCRP-CT-HEAD")

    client_for(owner.user).put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(), "revision": 0},
        format="json",
    )

    assert ReportDraft.objects.get(study=study).template == template


def test_a_template_names_a_procedure_or_a_worklist():
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportTemplate.objects.create(name="For alt")


def test_templates_are_managed_in_the_admin(admin_client, neuro):
    make("Nevro", worklist=neuro)

    assert admin_client.get(reverse("admin:reports_reporttemplate_add")).status_code == 200
    listing = admin_client.get(reverse("admin:reports_reporttemplate_changelist"))
    assert "Nevro" in listing.content.decode()
