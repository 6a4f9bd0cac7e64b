"""Draft autosave: PUT /api/v1/studies/{id}/report. The draft is the study's, not the reader's:
it survives a claim lapse and a reassignment, and the next reader sees it and its author."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from reports.models import ReportDraft
from tests import factories
from worklists.actors import Actor
from worklists.models import Assignment, StudyEvent, StudyStatus
from worklists.services.claims import claims_expire
from worklists.services.studies import study_assign, study_reassign

pytestmark = pytest.mark.django_db


def url(study) -> str:
    return reverse("api-report", args=[study.id])


def test_the_first_autosave_creates_the_draft_and_opens_the_study(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    assert study.status == StudyStatus.ASSIGNED

    response = client_for(owner.user).put(
        url(study), {"sections": factories.report_sections(), "revision": 0}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["revision"] == 1
    draft = ReportDraft.objects.get(study=study)
    assert draft.author == owner.user
    assert [s["key"] for s in draft.sections] == [
        "clinical_information",
        "technique",
        "findings",
        "conclusion",
    ]
    study.refresh_from_db()
    assert study.status == StudyStatus.IN_PROGRESS
    assert StudyEvent.objects.filter(study=study, to_status=StudyStatus.IN_PROGRESS).count() == 1


def test_each_autosave_raises_the_revision_and_keeps_the_latest_text(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    for revision, text in enumerate(["Ingen", "Ingen blød", "Ingen blødning."]):
        response = client.put(
            url(study),
            {"sections": factories.report_sections(findings=text), "revision": revision},
            format="json",
        )
        assert response.status_code == 200

    draft = ReportDraft.objects.get(study=study)
    assert draft.revision == 3
    assert draft.sections[2]["text"] == "Ingen blødning."
    assert StudyEvent.objects.filter(study=study, to_status=StudyStatus.IN_PROGRESS).count() == 1


def test_a_save_from_a_stale_revision_is_refused_and_changes_nothing(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    client.put(url(study), {"sections": factories.report_sections(), "revision": 0}, format="json")
    client.put(
        url(study),
        {"sections": factories.report_sections(findings="Andre tab"), "revision": 1},
        format="json",
    )

    stale = client.put(
        url(study),
        {"sections": factories.report_sections(findings="Gammel fane"), "revision": 1},
        format="json",
    )

    assert stale.status_code == 409
    assert stale.json()["current_revision"] == 2
    assert "revision" in stale.json()["errors"]
    assert ReportDraft.objects.get(study=study).sections[2]["text"] == "Andre tab"


def test_malformed_sections_get_a_clear_error(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)

    response = client_for(owner.user).put(
        url(study),
        {"sections": [{"key": "Findings!", "text": "x"}], "revision": 0},
        format="json",
    )

    assert response.status_code == 400
    assert "key must be" in response.json()["errors"]["sections"][0]
    assert not ReportDraft.objects.filter(study=study).exists()


def test_autosave_keeps_the_claim_alive(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    before = Assignment.objects.get(study=study, ended_at__isnull=True).last_activity_at

    client_for(owner.user).put(
        url(study), {"sections": factories.report_sections(), "revision": 0}, format="json"
    )

    after = Assignment.objects.get(study=study, ended_at__isnull=True).last_activity_at
    assert after is not None
    assert before is None or after > before


def test_the_draft_survives_reassignment_and_the_next_reader_sees_it_and_its_author(
    owner, other_radiologist, coordinator, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)
    client_for(owner.user).put(
        url(study),
        {"sections": factories.report_sections(findings="Halvferdig"), "revision": 0},
        format="json",
    )

    study_reassign(
        study_id=study.id,
        radiologist_id=other_radiologist.id,
        actor=Actor.for_user(coordinator),
        reason="owner went home",
    )

    seen = client_for(other_radiologist.user).get(url(study)).json()
    assert seen["may_write"] is True
    assert seen["draft"]["author"] == owner.display_name
    assert seen["draft"]["sections"][2]["text"] == "Halvferdig"

    refused = client_for(owner.user).put(
        url(study),
        {"sections": factories.report_sections(findings="Etter"), "revision": 1},
        format="json",
    )
    assert refused.status_code == 403
    assert "holds this study" in refused.json()["errors"]["non_field_errors"][0]

    continued = client_for(other_radiologist.user).put(
        url(study),
        {"sections": factories.report_sections(findings="Halvferdig, fullført"), "revision": 1},
        format="json",
    )
    assert continued.status_code == 200
    draft = ReportDraft.objects.get(study=study)
    assert draft.author == other_radiologist.user
    assert draft.sections[2]["text"] == "Halvferdig, fullført"


def test_the_draft_survives_an_expired_claim_and_the_next_reader_continues_it(
    owner, other_radiologist, site_a, client_for, settings
):
    study = factories.held_study(owner, site=site_a)
    client_for(owner.user).put(
        url(study),
        {"sections": factories.report_sections(findings="Før pause"), "revision": 0},
        format="json",
    )
    last_save = Assignment.objects.get(study=study, ended_at__isnull=True).last_activity_at
    idle = dt.timedelta(minutes=settings.ROUTING_CLAIM_IDLE_MINUTES, seconds=1)

    expired = claims_expire(now=last_save + idle)

    assert [e.study_id for e in expired] == [study.id]
    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    study_assign(study_id=study.id, radiologist_id=other_radiologist.id, actor=Actor.system("t"))
    seen = client_for(other_radiologist.user).get(url(study)).json()
    assert seen["draft"]["author"] == owner.display_name
    assert seen["draft"]["sections"][2]["text"] == "Før pause"
    continued = client_for(other_radiologist.user).put(
        url(study),
        {"sections": factories.report_sections(findings="Før pause, og etter"), "revision": 1},
        format="json",
    )
    assert continued.status_code == 200
    assert ReportDraft.objects.get(study=study).author == other_radiologist.user


def test_the_draft_survives_a_closed_browser(owner, site_a, client_for):
    # Nothing lives in the browser: a new session of the same reader gets the saved draft back.
    study = factories.held_study(owner, site=site_a)
    client_for(owner.user).put(
        url(study),
        {"sections": factories.report_sections(findings="Lagret"), "revision": 0},
        format="json",
    )

    seen = client_for(owner.user).get(url(study)).json()

    assert seen["draft"]["sections"][2]["text"] == "Lagret"
    assert seen["draft"]["revision"] == 1


def test_autosave_costs_a_bounded_number_of_queries(
    owner, site_a, client_for, django_assert_max_num_queries
):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    client.put(url(study), {"sections": factories.report_sections(), "revision": 0}, format="json")

    # 12: the reader's own activity is one compare-and-set besides the claim's (idle readers
    # receive no pushes)
    with django_assert_max_num_queries(12):
        response = client.put(
            url(study),
            {"sections": factories.report_sections(findings="Mer"), "revision": 1},
            format="json",
        )
    assert response.status_code == 200
