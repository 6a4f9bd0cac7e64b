"""The peer-review API: /api/v1/reviews (list, one, score) and /api/v1/reviews/figures.
Scoped (another site's reader sees nothing), audited, blinded, in the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.urls import reverse

from hl7_interface.models import OutboundMessage
from quality.models import ReviewStatus
from quality.services.sampling import review_sample
from quality.services.scoring import review_score
from tests.quality_support import final_version, policy, sampled_review
from worklists.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(owner, other_radiologist, site_a, neuro):
    return sampled_review(owner, other_radiologist, site=site_a, worklist=neuro, blind_author=True)


def test_the_reviewer_lists_their_reviews_blinded_and_the_list_is_audited(
    task, other_radiologist, client_for
):
    response = client_for(other_radiologist.user).get(reverse("api-reviews"))

    assert response.status_code == 200
    (row,) = response.json()
    assert row["id"] == task.id
    assert row["status"] == "ASSIGNED"
    assert row["author"] is None
    assert row["author_blinded"] is True
    assert AuditEvent.objects.filter(
        actor=other_radiologist.user, action="study.list", object_id=str(task.study_id)
    ).exists()


def test_without_blinding_the_reviewer_sees_the_author(task, owner, other_radiologist, client_for):
    task.blind_author = False
    task.save()

    (row,) = client_for(other_radiologist.user).get(reverse("api-reviews")).json()

    assert row["author"] == owner.display_name
    assert row["author_blinded"] is False


def test_the_author_another_sites_reader_and_a_site_user_see_no_review(
    task, owner, outsider, site_user, client_for
):
    for user in (owner.user, outsider.user, site_user):
        client = client_for(user)
        assert client.get(reverse("api-reviews")).json() == []
        assert client.get(reverse("api-review", args=[task.id])).status_code == 404


def test_a_coordinator_lists_every_review_and_filters_by_status(
    task, owner, coordinator, client_for
):
    client = client_for(coordinator)

    (row,) = client.get(reverse("api-reviews")).json()
    assert row["author"] == owner.display_name  # coordinators are never blinded
    assert client.get(reverse("api-reviews"), {"status": "SCORED"}).json() == []
    assert client.get(reverse("api-reviews"), {"status": "NOPE"}).status_code == 400


def test_one_review_shows_the_report_under_review_and_audits_the_reads(
    task, other_radiologist, client_for
):
    response = client_for(other_radiologist.user).get(reverse("api-review", args=[task.id]))

    assert response.status_code == 200
    body = response.json()
    assert [s["key"] for s in body["report_sections"]][-1] == "conclusion"
    assert body["author"] is None
    assert "signer" not in str(body)
    actions = set(
        AuditEvent.objects.filter(
            actor=other_radiologist.user, object_id=str(task.study_id)
        ).values_list("action", flat=True)
    )
    assert {"study.view", "report.view"} <= actions


def test_the_reviewer_scores_through_the_api_and_nothing_goes_to_the_ris(
    task, other_radiologist, client_for
):
    outbox = OutboundMessage.objects.count()

    response = client_for(other_radiologist.user).post(
        reverse("api-review-score", args=[task.id]),
        {"score": "2b", "comment": "Oversett fraktur."},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "SCORED"
    task.refresh_from_db()
    assert (task.status, task.score) == (ReviewStatus.SCORED, "2b")
    assert OutboundMessage.objects.count() == outbox
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.STUDY_LIST,
        object_id=str(task.study_id),
        actor=other_radiologist.user,
        channel="api",
    ).exists()  # the answer names the study


def test_scoring_refusals_have_their_status_codes(
    task, owner, outsider, other_radiologist, client_for
):
    url = reverse("api-review-score", args=[task.id])
    assert client_for(owner.user).post(url, {"score": "1"}).status_code == 403
    assert client_for(outsider.user).post(url, {"score": "1"}).status_code == 404
    reviewer = client_for(other_radiologist.user)
    bad = reviewer.post(url, {"score": "5"})
    assert bad.status_code == 400
    assert "score" in bad.json()["errors"]
    no_comment = reviewer.post(url, {"score": "3a"})
    assert no_comment.status_code == 400
    assert "comment" in no_comment.json()["errors"]
    assert reviewer.post(url, {"score": "1"}).status_code == 200
    assert reviewer.post(url, {"score": "1"}).status_code == 409


def test_figures_count_scores_per_reader_and_worklist_for_the_reader_and_coordinators(
    owner, other_radiologist, site_a, neuro, coordinator, client_for
):
    policy(neuro, share="100")
    for score in ("1", "1", "3b"):
        made = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
        assert made is not None
        review_score(task_id=made.id, user=other_radiologist.user, score=score, comment="x")
    made = review_sample(
        version_id=final_version(other_radiologist, site=site_a, worklist=neuro).id
    )
    assert made is not None
    review_score(task_id=made.id, user=owner.user, score="2a", comment="y")

    mine = client_for(owner.user).get(reverse("api-review-figures")).json()
    assert mine["everyone"] is False
    (reader,) = mine["readers"]
    assert (reader["id"], reader["scored"], reader["significant"]) == (owner.id, 3, 1)
    assert reader["counts"] == {"1": 2, "3b": 1}
    assert reader["significant_percent"] == "33.3"

    everyone = client_for(coordinator).get(reverse("api-review-figures"), {"worklist": "neuro"})
    body = everyone.json()
    assert body["everyone"] is True
    assert {r["id"]: r["scored"] for r in body["readers"]} == {owner.id: 3, other_radiologist.id: 1}
    (worklist,) = body["worklists"]
    assert (worklist["scored"], worklist["significant"]) == (4, 1)


def test_figures_of_another_sites_reader_are_empty(task, other_radiologist, outsider, client_for):
    review_score(task_id=task.id, user=other_radiologist.user, score="3b", comment="x")

    body = client_for(outsider.user).get(reverse("api-review-figures")).json()

    assert body["readers"] == []
    assert body["worklists"] == []


def test_the_review_endpoints_are_in_the_openapi_schema(client_for, coordinator):
    schema = client_for(coordinator).get(reverse("schema"), {"format": "json"}).json()
    paths = schema["paths"]
    assert {"/api/v1/reviews", "/api/v1/reviews/{review_id}", "/api/v1/reviews/figures"} <= set(
        paths
    )
    assert "post" in paths["/api/v1/reviews/{review_id}/score"]


def test_a_coordinator_withdraws_a_review_through_the_api_and_a_reader_may_not(
    task, other_radiologist, coordinator, client_for
):
    url = reverse("api-review-cancel", args=[task.id])
    assert client_for(other_radiologist.user).post(url, {"reason": "Ferie"}).status_code == 403
    assert client_for(coordinator).post(url, {}).status_code == 400

    response = client_for(coordinator).post(url, {"reason": "Pasienten er re-beskrevet"})

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    task.refresh_from_db()
    assert task.status == ReviewStatus.CANCELLED
    assert client_for(coordinator).post(url, {"reason": "igjen"}).status_code == 409
