"""manage.py seed_demo: a fictional, synthetic, rerunnable demo built through the services."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count
from django.test import RequestFactory
from django.utils import timezone

from worklists import nin
from worklists.access import COORDINATORS_GROUP
from worklists.models import (
    Assignment,
    ClassificationRule,
    Competence,
    Credential,
    DeadlineContract,
    Patient,
    PatientIdentifier,
    Radiologist,
    Site,
    SiteApiToken,
    SiteMembership,
    Study,
    StudyEvent,
    StudyStatus,
    Worklist,
)
from worklists.models.tokens import hash_secret

STUDIES = 60
SITE_CODES = ["fjordheim", "havbakken", "elvedal", "nordskjaer", "vidda", "solvberg", "lysvika"]
DEMO_USERNAMES = ["coordinator", *(f"rad{n:02d}" for n in range(1, 21)), *SITE_CODES]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 at full strength would make logging in 28 users take longer than the seeding.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--studies", str(STUDIES), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def output(db) -> str:
    return seed()


def row_counts() -> dict[str, int]:
    models = (
        Site,
        DeadlineContract,
        Worklist,
        ClassificationRule,
        User,
        Radiologist,
        Competence,
        Credential,
        SiteMembership,
        SiteApiToken,
        Patient,
        PatientIdentifier,
        Study,
        StudyEvent,
        Assignment,
    )
    return {model.__name__: model.objects.count() for model in models}


def test_it_creates_at_least_six_configured_sites_including_a_private_institute(output):
    sites = Site.objects.filter(code__in=SITE_CODES)
    assert sites.count() >= 6
    assert sites.filter(kind=Site.Kind.PRIVATE_INSTITUTE).exists()
    for site in sites:
        assert site.time_zone == "Europe/Oslo"
        assert site.hl7_sending_facility == site.code.upper()
        assert site.dicom_ae_title
        assert site.viewer_url(study_instance_uid="1.2.3", accession_number="A1") == (
            f"https://pacs.{site.code}.example/viewer?StudyInstanceUIDs=1.2.3"
        )
        contracts = dict(site.deadline_contracts.values_list("priority", "turnaround_minutes"))
        assert set(contracts) == {"STAT", "URGENT", "CANCER_PATHWAY", "ROUTINE"}
        assert contracts["STAT"] < contracts["URGENT"] < contracts["CANCER_PATHWAY"]
        assert contracts["CANCER_PATHWAY"] < contracts["ROUTINE"]


def test_it_adds_subspecialty_worklists_but_keeps_the_single_general_worklist(output):
    assert Worklist.objects.filter(is_general=True).count() == 1
    codes = set(Worklist.objects.values_list("code", flat=True))
    assert {"general", "neuro", "msk", "thorax", "abdomen", "mamma", "paediatric"} <= codes
    assert ClassificationRule.objects.filter(max_age_years=15).exists()


def test_it_creates_twenty_radiologists_with_competences_and_credentials(output):
    radiologists = Radiologist.objects.all()
    assert radiologists.count() == 20
    today = timezone.localdate()
    for radiologist in radiologists:
        assert radiologist.hpr_number.isdigit()
        assert 7 <= len(radiologist.hpr_number) <= 9
        assert radiologist.modalities
        assert radiologist.competences.exists()
        assert radiologist.credentials.filter(valid_from__lt=today).count() >= 3
    credentials = Credential.objects.all()
    assert credentials.filter(valid_until__lt=today).exists(), "some credentials have expired"
    assert credentials.filter(
        valid_until__gte=today, valid_until__lte=today + dt.timedelta(days=30)
    ).exists(), "one credential expires soon"
    assert Competence.objects.filter(level=Competence.Level.BACKUP).exists()


def test_every_demo_user_logs_in_with_the_password_demo(output):
    for username in DEMO_USERNAMES:
        # A request, as every sign-in has: the lock-out (django-axes) keys on its address.
        request = RequestFactory().post("/login/")
        assert authenticate(request, username=username, password="demo") is not None, username
    coordinator = User.objects.get(username="coordinator")
    assert coordinator.is_staff
    assert coordinator.is_superuser
    assert coordinator.groups.filter(name=COORDINATORS_GROUP).exists()
    for code in SITE_CODES:
        assert SiteMembership.objects.get(user__username=code).site.code == code


def test_studies_span_several_modalities_and_every_main_status(output):
    studies = Study.objects.all()
    assert studies.count() == STUDIES
    assert studies.values("modality").distinct().count() >= 5
    statuses = set(studies.values_list("status", flat=True))
    assert {
        StudyStatus.ORDERED,
        StudyStatus.READY,
        StudyStatus.ASSIGNED,
        StudyStatus.IN_PROGRESS,
        StudyStatus.FINAL,
        StudyStatus.CANCELLED,
    } <= statuses
    ready_or_later = studies.exclude(ready_at__isnull=True)
    assert not ready_or_later.filter(worklist__isnull=True).exists()
    assert not ready_or_later.filter(deadline__isnull=True).exists()
    assert studies.filter(status=StudyStatus.ORDERED, worklist__isnull=True).exists()


def test_every_national_identifier_is_a_valid_synthetic_number(output):
    identifiers = PatientIdentifier.objects.filter(kind__in=PatientIdentifier.NATIONAL_KINDS)
    assert identifiers.count() == Patient.objects.count()
    for identifier in identifiers:
        parsed = nin.parse(identifier.value)
        assert parsed.synthetic, identifier.value
        assert parsed.kind.value == identifier.kind
        assert identifier.authority == "NO-FREG"
        assert parsed.birth_date == identifier.patient.birth_date


def test_some_studies_are_unclassified_in_the_general_worklist(output):
    unclassified = Study.objects.filter(is_unclassified=True)
    assert unclassified.exists()
    assert not unclassified.exclude(worklist__is_general=True).exists()
    assert Study.objects.filter(is_unclassified=False, classification_rule__isnull=False).exists()


def test_some_patients_have_priors_at_another_site(output):
    spread = Patient.objects.annotate(sites=Count("studies__site", distinct=True))
    assert spread.filter(sites__gt=1).exists()


def test_studies_are_held_only_by_credentialed_competent_readers(output):
    held = Assignment.objects.select_related("study", "radiologist")
    assert held.exists()
    today = timezone.localdate()
    for assignment in held:
        study, reader = assignment.study, assignment.radiologist
        assert any(c.is_valid_on(today) for c in reader.credentials.filter(site=study.site))
        assert reader.competences.filter(worklist=study.worklist).exists()
        assert reader.reads_modality(study.modality)


def test_each_study_has_a_plausible_past_consistent_with_its_contract(output):
    now = timezone.now()
    for study in Study.objects.select_related("site"):
        times = list(study.events.values_list("at", flat=True))
        assert times == sorted(times), study.accession_number
        assert study.ordered_at <= times[0] + dt.timedelta(seconds=1)
        assert times[-1] <= now
        assert study.status_changed_at == times[-1]
        if study.ready_at is not None:
            minutes = study.site.deadline_contracts.get(priority=study.priority).turnaround_minutes
            assert study.deadline - study.ready_at == dt.timedelta(minutes=minutes)


def test_rerunning_changes_nothing_and_duplicates_nothing(output):
    before = row_counts()
    study_state = list(Study.objects.order_by("id").values_list("id", "status", "deadline"))
    again = seed()
    assert row_counts() == before
    assert list(Study.objects.order_by("id").values_list("id", "status", "deadline")) == (
        study_state
    )
    assert "none added" in again


def test_reset_replaces_the_studies_without_piling_up_patients(output):
    before = row_counts()
    # The read studies carry signed reports, which are never deleted: they stay.
    read = Study.objects.filter(report_versions__isnull=False).distinct().count()
    seed("--reset")
    after = row_counts()
    assert after["Study"] == STUDIES + read
    assert after["Patient"] == before["Patient"]
    assert after["Site"] == before["Site"]
    assert after["User"] == before["User"]


def test_every_site_has_an_api_token_printed_with_the_logins(output):
    assert "Open http://127.0.0.1:8000/ " in output  # serve's own default
    for username in DEMO_USERNAMES:
        assert username in output
    printed = dict(line.split() for line in output.split("Site API tokens")[1].splitlines()[1:-1])
    for code in SITE_CODES:
        # Stored hashed: the printed secret is the one whose hash the site's token holds.
        token = SiteApiToken.objects.get(site__code=code)
        assert token.key_hash == hash_secret(printed[code])


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", "8300", "http://127.0.0.1:8300"),
        ("0.0.0.0", "8301", "http://127.0.0.1:8301"),  # noqa: S104 - listens everywhere, open here
        ("::", "8302", "http://[::1]:8302"),
        ("rad.example.org", "8443", "http://rad.example.org:8443"),
    ],
)
def test_the_summary_names_the_address_make_run_serves(output, host, port, url):
    again = seed("--host", host, "--port", port)

    assert f"Open {url}/ " in again
    assert f"Admin: {url}/admin/" in again
    assert ":8000" not in again


def test_every_demo_radiologist_is_on_shift_now_and_read_next_gives_rad01_a_study(output):
    from worklists.actors import Actor
    from worklists.models import Shift
    from worklists.services.claims import study_claim_next
    from worklists.services.routing import forget_coverage_cache

    now = timezone.now()
    on_shift = set(
        Shift.objects.filter(starts_at__lte=now, ends_at__gt=now).values_list(
            "radiologist__user__username", flat=True
        )
    )
    assert on_shift == {f"rad{n:02d}" for n in range(1, 21)}
    seed()  # a rerun keeps one current shift each
    assert (
        Shift.objects.filter(starts_at__lte=timezone.now(), ends_at__gt=timezone.now()).count()
        == 20
    )

    forget_coverage_cache()
    rad01 = Radiologist.objects.get(user__username="rad01")
    claimed = study_claim_next(radiologist_id=rad01.id, actor=Actor.for_user(rad01.user))

    assert claimed is not None
    assert Assignment.objects.get(study_id=claimed.study_id, ended_at__isnull=True).radiologist == (
        rad01
    )


def test_reset_keeps_studies_whose_report_was_signed_and_seeds_around_them(output):
    from reports.models import ReportVersion
    from reports.services.drafts import DraftInput
    from reports.services.signing import report_sign
    from tests.factories import report_sections

    assignment = Assignment.objects.filter(
        ended_at__isnull=True, study__status=StudyStatus.ASSIGNED
    ).first()
    assert assignment is not None
    study = assignment.study
    read = Study.objects.filter(report_versions__isnull=False).distinct().count()
    report_sign(
        study_id=study.id,
        user=assignment.radiologist.user,
        password="demo",
        draft=DraftInput(sections=report_sections(), base_revision=0),
    )

    again = seed("--reset")

    assert f"Kept {read + 1} with issued reports" in again
    assert Study.objects.filter(pk=study.pk).exists()
    assert ReportVersion.objects.filter(study=study).count() == 1
    assert Study.objects.count() == STUDIES + read + 1
    accessions = list(Study.objects.values_list("site_id", "accession_number"))
    assert len(accessions) == len(set(accessions))


def test_it_ships_norwegian_report_templates_for_the_common_demo_procedures(output):
    from reports.models import ReportTemplate
    from worklists.demo.procedures import PROCEDURES

    ordered = {p.code for p in PROCEDURES}
    templates = ReportTemplate.objects.filter(is_active=True).prefetch_related("sections")
    by_code = {t.procedure_code: t for t in templates if t.procedure_code}
    for code in ("CAA0AA", "CCA0AB", "CCF0AB", "MNG0AH", "MBE0AA", "NCA0AT", "GGA0SC", "GGA0KL"):
        assert code in by_code, code
    assert set(by_code) <= ordered, "every template is for a procedure the demo orders"
    for template in by_code.values():
        titles = [s.title for s in template.sections.all()]
        assert "Funn" in titles, template.name
        assert "Konklusjon" in titles, template.name
        assert template.modality == next(
            p.modality for p in PROCEDURES if p.code == template.procedure_code
        )
    for code in ("GGA0SC", "GGA0KL"):
        birads = by_code[code].sections.get(key="birads")
        assert "BI-RADS" in birads.default_text
    assert (
        "Ingen intrakraniell blødning"
        in by_code["CAA0AA"].sections.get(key="findings").default_text
    )
    paediatric = templates.filter(worklist__code="paediatric", procedure_code="")
    assert {t.modality for t in paediatric} == {"DX", "CR", ""}
    # every worklist falls back to the four sections with bokmål titles, never English ones
    fallbacks = templates.filter(procedure_code="", modality="")
    assert set(fallbacks.values_list("worklist__code", flat=True)) == set(
        Worklist.objects.values_list("code", flat=True)
    )
    for template in fallbacks:
        assert [s.title for s in template.sections.all()] == [
            "Klinisk informasjon",
            "Teknikk",
            "Funn",
            "Konklusjon",
        ]


def test_it_ships_shared_macros_per_worklist_and_personal_ones_for_rad01(output):
    from reports.models import Macro
    from reports.services.macros import clean_macro_name

    shared = Macro.objects.filter(worklist__isnull=False)
    for code in ("neuro", "thorax", "abdomen", "msk", "mamma", "paediatric"):
        assert shared.filter(worklist__code=code).count() >= 1, code
    assert {f"bi{n}" for n in range(1, 6)} <= set(
        shared.filter(worklist__code="mamma").values_list("name", flat=True)
    )
    personal = Macro.objects.filter(owner__isnull=False)
    assert set(personal.values_list("owner__user__username", flat=True)) == {"rad01"}
    assert personal.count() >= 2
    for macro in Macro.objects.all():
        assert clean_macro_name(macro.name) == macro.name
        assert macro.text.strip()


def test_every_read_demo_study_has_a_signed_report_so_that_priors_show_text(output):
    from reports.models import ReportVersion

    final = Study.objects.filter(status=StudyStatus.FINAL)
    assert final.exists()
    for study in final:
        version = ReportVersion.objects.get(study=study)
        assert version.kind == "FINAL"
        texts = {s["key"]: s["text"] for s in version.sections}
        assert texts["findings"].strip()
        assert texts["conclusion"].strip()
        reader = Assignment.objects.get(study=study, end_reason="signed").radiologist
        assert version.signed_by == reader
        assert version.signed_at == study.events.get(to_status=StudyStatus.FINAL).at
    unread = Study.objects.filter(
        status__in=[StudyStatus.READY, StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS]
    )
    assert any(
        Study.objects.filter(patient_id=s.patient_id, report_versions__isnull=False)
        .exclude(pk=s.pk)
        .exists()
        for s in unread
    ), "some unread study has a prior with a report"


def test_every_read_demo_report_shows_as_delivered_to_its_sites_ris_and_none_is_sent(output):
    from hl7_interface.models import OutboundMessage, OutboundStatus
    from reports.models import ReportVersion

    versions = {v.id: v for v in ReportVersion.objects.select_related("study")}
    assert versions
    messages = list(OutboundMessage.objects.all())
    assert sorted(m.content["report_version_id"] for m in messages) == sorted(versions)
    for message in messages:
        version = versions[message.content["report_version_id"]]
        assert (message.study_id, message.site_id) == (version.study_id, version.study.site_id)
        assert message.status == OutboundStatus.DELIVERED
        assert message.ack_code == "AA"
        assert message.result_status == "F"
        assert message.delivered_at > version.signed_at
        assert message.next_attempt_at is None  # the drain never picks it up

    seed()
    assert OutboundMessage.objects.count() == len(messages)


def test_rerunning_keeps_one_of_each_template_macro_and_report(output):
    from reports.models import Macro, ReportTemplate, ReportTemplateSection, ReportVersion

    models = (ReportTemplate, ReportTemplateSection, Macro, ReportVersion)
    before = {m.__name__: m.objects.count() for m in models}
    seed()
    assert {m.__name__: m.objects.count() for m in models} == before
