"""AI findings: POST /api/v1/studies/{id}/ai-findings re-prioritises and re-routes at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests import factories
from worklists.models import AiFinding, Assignment, RoutingDecision, SiteApiToken, Study
from worklists.services.routing import forget_coverage_cache

pytestmark = pytest.mark.django_db

ICH = {
    "code": "ICH",
    "description": "Suspected intracranial haemorrhage",
    "confidence": "0.930",
    "source": "NeuroScan AI 4.2",
    "external_id": "ns-8812",
}


@pytest.fixture(autouse=True)
def _fresh_coverage():
    forget_coverage_cache()


def url(study: Study) -> str:
    return reverse("api-study-ai-findings", kwargs={"study_id": study.id})


def test_a_critical_finding_puts_the_study_first_and_routes_it_at_once(
    site_a_client, owner, site_a, neuro, django_capture_on_commit_callbacks
):
    factories.shift(owner, worklists=(neuro,))
    now = timezone.now()
    study = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(days=5))

    with django_capture_on_commit_callbacks(execute=True):
        response = site_a_client.post(url(study), ICH, format="json")

    assert response.status_code == 201
    assert response.json()["is_critical"] is True
    study.refresh_from_db()
    assert study.routing_rank == 0
    assert study.deadline <= now + dt.timedelta(minutes=61)  # the STAT turnaround from now
    assert study.ai_findings.get().code == "ICH"
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == owner.id
    assert RoutingDecision.objects.get(study=study).trigger == "ai_finding"


def test_a_critical_finding_jumps_the_read_next_order(site_a_client, owner, site_a, neuro):
    from worklists.actors import Actor
    from worklists.services.claims import study_claim_next

    factories.shift(owner, worklists=(neuro,))
    now = timezone.now()
    # A STAT order due in 90 minutes; the finding makes the routine study due within 60.
    factories.ready_study(site_a, neuro, priority="STAT", deadline=now + dt.timedelta(minutes=90))
    routine = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(days=6))
    site_a_client.post(url(routine), ICH, format="json")

    claimed = study_claim_next(radiologist_id=owner.id, actor=Actor.system("t"))
    assert claimed is not None
    assert claimed.study_id == routine.id


def test_a_queued_study_is_routed_again_when_a_critical_finding_arrives(
    site_a_client, owner, other_radiologist, site_a, neuro, django_capture_on_commit_callbacks
):
    factories.shift(owner, worklists=(neuro,))
    factories.shift(other_radiologist, worklists=(neuro,))
    study = factories.ready_study(site_a, neuro)
    from worklists.services.routing import study_route

    study_route(study_id=study.id, trigger="study.ready")

    with django_capture_on_commit_callbacks(execute=True):
        site_a_client.post(url(study), ICH, format="json")

    decisions = list(RoutingDecision.objects.filter(study=study).order_by("id"))
    assert [d.trigger for d in decisions] == ["study.ready", "ai_finding"]
    assert Assignment.objects.filter(study=study, ended_at__isnull=True).count() == 1


def test_a_non_critical_or_low_confidence_finding_is_stored_without_reordering(
    site_a_client, site_a, neuro
):
    study = factories.ready_study(site_a, neuro)
    low = {**ICH, "confidence": "0.2", "external_id": "low"}
    nodule = {**ICH, "code": "NODULE", "description": "Lung nodule 6 mm", "external_id": "n"}

    assert site_a_client.post(url(study), low, format="json").status_code == 201
    assert site_a_client.post(url(study), nodule, format="json").status_code == 201

    study.refresh_from_db()
    assert study.routing_rank == 3
    assert AiFinding.objects.filter(study=study, is_critical=False).count() == 2


def test_the_same_finding_reported_twice_is_stored_once(site_a_client, site_a, neuro):
    study = factories.ready_study(site_a, neuro)
    assert site_a_client.post(url(study), ICH, format="json").status_code == 201
    assert site_a_client.post(url(study), ICH, format="json").status_code == 200
    assert AiFinding.objects.count() == 1


def test_a_bad_finding_gets_field_errors(site_a_client, site_a, neuro):
    study = factories.ready_study(site_a, neuro)
    response = site_a_client.post(url(study), {**ICH, "confidence": "1.5"}, format="json")
    assert response.status_code == 400
    assert "confidence" in response.json()["errors"]
    assert AiFinding.objects.count() == 0


def test_another_sites_token_or_a_person_cannot_report_findings(
    site_a, site_b, neuro, owner, client_for
):
    study = factories.ready_study(site_a, neuro)
    token = SiteApiToken.objects.create(site=site_b)
    other_site = APIClient()
    other_site.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert other_site.post(url(study), ICH, format="json").status_code == 404
    assert client_for(owner.user).post(url(study), ICH, format="json").status_code == 403
    assert AiFinding.objects.count() == 0


def test_a_finding_id_already_used_for_another_sites_study_is_a_conflict_that_reveals_nothing(
    site_a_client, site_a, site_b, neuro
):
    theirs = factories.ready_study(site_a, neuro)
    assert site_a_client.post(url(theirs), ICH, format="json").status_code == 201
    ours = factories.ready_study(site_b, neuro)
    site_b_client = APIClient()
    site_b_client.credentials(
        HTTP_AUTHORIZATION=f"Token {SiteApiToken.objects.create(site=site_b).key}"
    )

    response = site_b_client.post(url(ours), ICH, format="json")

    assert response.status_code == 409
    assert set(response.json()) == {"errors"}  # no study id, no finding of the other site
    assert ICH["description"] not in response.content.decode()
    assert AiFinding.objects.get().study_id == theirs.id


def test_a_critical_finding_keeps_its_stat_deadline_when_the_images_complete_later(
    site_a_client, site_a, neuro
):
    from worklists.actors import Actor
    from worklists.services.studies import study_mark_ready

    study = factories.StudyFactory.create(site=site_a, priority="ROUTINE")
    assert study.status == "ORDERED"
    reported = timezone.now()
    response = site_a_client.post(
        url(study), {**ICH, "reported_at": reported.isoformat()}, format="json"
    )
    assert response.status_code == 201

    study_mark_ready(study_id=study.id, actor=Actor.system("test"))

    study.refresh_from_db()
    assert study.routing_rank == 0
    assert study.deadline is not None
    assert study.deadline <= reported + dt.timedelta(minutes=61)  # STAT, not the routine week
