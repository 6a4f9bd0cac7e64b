"""A coordinator's manual reassignment of a review (quality.services.reassignment), on the
review page and at POST /api/v1/reviews/{id}/reassign: with a reason, to someone routing could
choose, never the author nor a reader whose read went into a double-read final; every change a
ReviewEvent; 403 for anyone but a coordinator, 404 for no such review, 409 when refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from quality.models import ReviewEvent, ReviewStatus
from quality.services.sampling import review_sample
from quality.services.scoring import review_score
from reports.models import ReportVersion
from tests import factories
from tests.double_reading_support import NORMAL, make_cast, screening_study, sign_read
from tests.quality_support import final_version, policy
from worklists.access import COORDINATORS_GROUP

pytestmark = pytest.mark.django_db


@pytest.fixture
def third(site_a, neuro):
    rad = factories.RadiologistFactory(user__username="third")
    factories.credential(rad, site_a)
    factories.competence(rad, neuro)
    return rad


@pytest.fixture
def task(owner, other_radiologist, third, site_a, neuro):
    """The owner's report, under review by one of two eligible colleagues."""
    policy(neuro, share="100")
    made = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    assert made is not None
    assert made.reviewer_id in (other_radiologist.id, third.id)
    return made


def _other_than(task, *radiologists):
    return next(r for r in radiologists if r.id != task.reviewer_id)


def reassign(client, task_id, reviewer_id, reason="The reviewer is away for two weeks."):
    return client.post(
        reverse("api-review-reassign", args=[task_id]),
        {"reviewer_id": reviewer_id, "reason": reason},
        format="json",
    )


def test_a_coordinator_reassigns_a_review_with_a_reason_and_an_event_is_recorded(
    task, other_radiologist, third, coordinator, client_for
):
    before = task.reviewer_id
    new = _other_than(task, other_radiologist, third)

    response = reassign(client_for(coordinator), task.id, new.id)

    assert response.status_code == 200, response.content
    assert response.json()["reviewer"] == new.display_name
    task.refresh_from_db()
    assert (task.status, task.reviewer_id) == (ReviewStatus.ASSIGNED, new.id)
    event = ReviewEvent.objects.filter(task=task).last()
    assert event is not None
    assert (event.from_status, event.to_status, event.reviewer_id) == (
        "ASSIGNED",
        "ASSIGNED",
        new.id,
    )
    assert (event.actor_id, event.note) == (coordinator.id, "The reviewer is away for two weeks.")
    assert before != new.id


def test_a_waiting_review_is_assigned_by_hand_once_someone_is_eligible(
    owner, site_a, neuro, coordinator, client_for
):
    policy(neuro, share="100")
    waiting = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    assert waiting is not None
    assert waiting.status == ReviewStatus.UNASSIGNED
    late = factories.RadiologistFactory(user__username="late")
    factories.credential(late, site_a)
    factories.competence(late, neuro)

    assert reassign(client_for(coordinator), waiting.id, late.id).status_code == 200

    waiting.refresh_from_db()
    assert (waiting.status, waiting.reviewer_id) == (ReviewStatus.ASSIGNED, late.id)


def test_only_a_coordinator_reassigns(task, other_radiologist, third, client_for):
    new = _other_than(task, other_radiologist, third)
    reviewer = task.reviewer

    response = reassign(client_for(reviewer.user), task.id, new.id)

    assert response.status_code == 403
    task.refresh_from_db()
    assert task.reviewer_id == reviewer.id


def test_no_such_review_is_a_404(task, third, coordinator, client_for):
    assert reassign(client_for(coordinator), task.id + 1000, third.id).status_code == 404


def test_a_scored_review_is_not_reassigned(task, other_radiologist, third, coordinator, client_for):
    review_score(task_id=task.id, user=task.reviewer.user, score="1", comment="")
    new = _other_than(task, other_radiologist, third)

    response = reassign(client_for(coordinator), task.id, new.id)

    assert response.status_code == 409
    assert "scored" in str(response.json()).lower()


@pytest.mark.parametrize("who", ["author", "outsider", "same"])
def test_the_author_someone_not_eligible_or_the_same_reviewer_is_refused(
    who, task, owner, outsider, coordinator, client_for
):
    target = {"author": owner, "outsider": outsider, "same": task.reviewer}[who]
    events_before = ReviewEvent.objects.filter(task=task).count()

    response = reassign(client_for(coordinator), task.id, target.id)

    assert response.status_code == 409
    task.refresh_from_db()
    assert task.reviewer_id not in (owner.id, outsider.id)
    assert ReviewEvent.objects.filter(task=task).count() == events_before


def test_a_reason_is_needed(task, other_radiologist, third, coordinator, client_for):
    new = _other_than(task, other_radiologist, third)

    response = reassign(client_for(coordinator), task.id, new.id, reason="  ")

    assert response.status_code == 400


@pytest.mark.usefixtures("fresh_routing_caches")
def test_a_reader_whose_read_went_into_the_double_read_final_is_refused(client_for):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, NORMAL)
    policy(cast.mamma, share="100")
    task = review_sample(version_id=ReportVersion.objects.get(study=study, kind="FINAL").id)
    assert task is not None

    response = reassign(client_for(cast.coordinator), task.id, cast.reader1.id)

    assert response.status_code == 409
    assert "read went into the final" in str(response.json())


def test_the_review_page_offers_a_coordinator_the_eligible_reviewers_and_reassigns(
    task, owner, outsider, other_radiologist, third, coordinator
):
    new = _other_than(task, other_radiologist, third)
    client = Client()
    client.force_login(coordinator)

    page = client.get(reverse("review", args=[task.id]), follow=True).content.decode()

    assert "data-reassign-form" in page
    assert f'value="{new.id}"' in page
    for never in (owner, outsider, task.reviewer):
        assert f'<option value="{never.id}"' not in page
    response = client.post(
        reverse("review-reassign", args=[task.id]),
        {"reviewer_id": str(new.id), "reason": "Balance the load."},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.reviewer_id == new.id


def test_the_review_page_shows_no_reassignment_to_the_reviewer_who_may_not_post_it(
    task, other_radiologist, third
):
    client = Client()
    client.force_login(task.reviewer.user)
    new = _other_than(task, other_radiologist, third)

    page = client.get(reverse("review", args=[task.id]), follow=True).content.decode()
    refused = client.post(
        reverse("review-reassign", args=[task.id]),
        {"reviewer_id": str(new.id), "reason": "Mine."},
    )

    assert "data-score-form" in page  # the review's reading page, with its own form
    assert "data-reassign-form" not in page
    assert refused.status_code == 403


def test_the_reassignment_is_in_the_openapi_schema(client_for, coordinator):
    schema = client_for(coordinator).get("/api/schema/", {"format": "json"}).json()

    assert "/api/v1/reviews/{review_id}/reassign" in schema["paths"]


def test_the_api_lists_the_reviewers_a_coordinator_may_choose(
    task, owner, outsider, other_radiologist, third, coordinator, client_for
):
    new = _other_than(task, other_radiologist, third)

    answer = client_for(coordinator).get(reverse("api-review-reviewers", args=[task.id]))

    assert answer.status_code == 200
    assert answer.json() == [{"id": new.id, "name": new.display_name, "open_reviews": 0}]
    assert (
        client_for(task.reviewer.user)
        .get(reverse("api-review-reviewers", args=[task.id]))
        .status_code
        == 403
    )
    missing = client_for(coordinator).get(reverse("api-review-reviewers", args=[task.id + 999]))
    assert missing.status_code == 404
    review_score(task_id=task.id, user=task.reviewer.user, score="1", comment="")
    closed = client_for(coordinator).get(reverse("api-review-reviewers", args=[task.id]))
    assert closed.status_code == 409


def test_a_coordinator_holding_a_review_may_not_reassign_it_nor_list_whom_to(task, client_for):
    """Everyone eligible but the author: the list (or which choices are refused) would name the
    author to a blind reviewer; another coordinator reassigns it."""
    holder = task.reviewer_id
    reviewer = task.reviewer.user
    reviewer.groups.add(Group.objects.get_or_create(name=COORDINATORS_GROUP)[0])
    client = client_for(reviewer)

    listed = client.get(reverse("api-review-reviewers", args=[task.id]))
    moved = client.post(
        reverse("api-review-reassign", args=[task.id]),
        {"reviewer_id": task.author_id, "reason": "Probing."},
        format="json",
    )

    assert listed.status_code == 403
    assert moved.status_code == 403
    task.refresh_from_db()
    assert task.reviewer_id == holder
