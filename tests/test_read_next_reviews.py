""" "Read next" opens the reader's peer review when it comes first in their reading order, from
each of its doors: the worklist's button, the REST API and the reading page's "Read next"; and
it costs one query more than a read next without reviews, however many reviews wait."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from quality.models import ReviewTask
from quality.reading_order import review_reading_url
from quality.services.sampling import review_sample
from reports.services.reading import study_read_next
from tests import factories
from tests.quality_support import client_of, final_version, policy
from worklists import hooks
from worklists.actors import Actor
from worklists.models import Study, StudyStatus
from worklists.services.routing import forget_coverage_cache
from worklists.services.studies import study_assign
from worklists.services.tokens import personal_token_issue

pytestmark = pytest.mark.django_db


def sample_review(owner, site, worklist, *, hours: float) -> ReviewTask:
    made = review_sample(version_id=final_version(owner, site=site, worklist=worklist).id)
    assert made is not None
    ReviewTask.objects.filter(id=made.id).update(
        deadline=timezone.now() + dt.timedelta(hours=hours)
    )
    made.refresh_from_db()
    return made


@pytest.fixture
def review(owner, other_radiologist, site_a, neuro):
    """The other radiologist's blind review of the owner's report, due in two hours; they are on
    a shift for neuro."""
    policy(neuro, share="100", blind_author=True)
    made = sample_review(owner, site_a, neuro, hours=2)
    assert made.reviewer_id == other_radiologist.id
    factories.shift(other_radiologist, worklists=(neuro,))
    forget_coverage_cache()
    yield made
    forget_coverage_cache()


def test_the_worklist_button_opens_the_review_before_a_routine_study_due_later(
    review, other_radiologist, site_a, neuro
):
    later = factories.ready_study(site_a, neuro, deadline=timezone.now() + dt.timedelta(hours=20))

    answer = client_of(other_radiologist.user).post(reverse("worklist-next"))

    assert answer.status_code == 302
    assert answer["Location"] == review_reading_url(study_id=review.study_id, review_id=review.id)
    later.refresh_from_db()
    assert later.status == StudyStatus.READY  # not claimed


def test_the_worklist_button_claims_a_study_due_before_the_review(
    review, other_radiologist, site_a, neuro
):
    sooner = factories.ready_study(site_a, neuro, deadline=timezone.now() + dt.timedelta(hours=1))

    answer = client_of(other_radiologist.user).post(reverse("worklist-next"))

    assert answer["Location"] == reverse("reading", args=[sooner.id])


def test_the_api_answers_the_review_with_its_study_and_where_it_opens(
    review, other_radiologist, client_for
):
    answer = client_for(other_radiologist.user).post(reverse("api-worklist-next"))

    assert answer.status_code == 200
    body = answer.json()
    assert body["task"]["kind"] == "peer-review"
    assert body["task"]["id"] == review.id
    assert body["task"]["label"] == "Peer review"
    assert body["study"]["id"] == review.study_id
    assert body["reading_url"] == review_reading_url(study_id=review.study_id, review_id=review.id)
    assert body["bundled_study_ids"] == []
    assert "Forfattersen" not in answer.content.decode()


def test_the_api_answers_a_study_with_no_task(other_radiologist, site_a, neuro, client_for):
    factories.shift(other_radiologist, worklists=(neuro,))
    forget_coverage_cache()
    study = factories.ready_study(site_a, neuro)

    body = client_for(other_radiologist.user).post(reverse("api-worklist-next")).json()

    assert (body["study"]["id"], body["task"]) == (study.id, None)


def test_the_reading_pages_read_next_opens_the_review(review, other_radiologist, site_a, neuro):
    current = factories.held_study(other_radiologist, site=site_a, worklist=neuro)

    answer = client_of(other_radiologist.user).post(
        reverse("reading-next"), {"after": str(current.id)}
    )

    assert answer["Location"] == review_reading_url(study_id=review.study_id, review_id=review.id)


def _token_client(radiologist) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {personal_token_issue(user_id=radiologist.user_id).key}"
    )
    return client


def _queries_of_a_claim(client: APIClient, site_a, neuro) -> int:
    factories.ready_study(site_a, neuro, deadline=timezone.now() + dt.timedelta(minutes=30))
    with CaptureQueriesContext(connection) as captured:
        answer = client.post(reverse("api-worklist-next"))
    assert answer.status_code == 200
    assert answer.json()["task"] is None
    # Opened: the next measurement starts from the same state (an empty queue).
    Study.objects.filter(status=StudyStatus.ASSIGNED).update(status=StudyStatus.IN_PROGRESS)
    return len(captured.captured_queries)


def test_read_next_asks_one_query_more_for_reviews_however_many_wait(
    owner, other_radiologist, site_a, neuro, monkeypatch, django_assert_num_queries
):
    policy(neuro, share="100", blind_author=True)
    factories.shift(other_radiologist, worklists=(neuro,))
    forget_coverage_cache()
    client = _token_client(other_radiologist)
    client.post(reverse("api-worklist-next"))  # the reader's pull scope is cached from here on
    with monkeypatch.context() as without:
        # No app gives tasks: read next as it was before reviews joined the reading order.
        without.setattr(hooks, "_task_providers", {})
        before = _queries_of_a_claim(client, site_a, neuro)
    no_reviews = _queries_of_a_claim(client, site_a, neuro)
    sample_review(owner, site_a, neuro, hours=48)
    one_review = _queries_of_a_claim(client, site_a, neuro)
    for _ in range(4):
        sample_review(owner, site_a, neuro, hours=48)
    five_reviews = _queries_of_a_claim(client, site_a, neuro)

    assert no_reviews == before + 1
    assert one_review == five_reviews == no_reviews
    # and once more, the reviews' task opening: the claim finds nothing before it
    sample_review(owner, site_a, neuro, hours=0.1)
    factories.ready_study(site_a, neuro, deadline=timezone.now() + dt.timedelta(hours=30))
    with django_assert_num_queries(before + 1, exact=False):
        answer = client.post(reverse("api-worklist-next"))
    assert answer.json()["task"] is not None


def _given_to(reader, study) -> None:
    study_assign(study_id=study.id, radiologist_id=reader.id, actor=Actor.system("test"))


def test_after_the_study_they_are_on_the_review_comes_before_a_later_queued_study(
    review, other_radiologist, site_a, neuro
):
    """The rule gives back the study the reader is on (given to them, due first): next is the
    earlier of their review and the next study waiting in their queue."""
    now = timezone.now()
    current = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=1))
    waiting = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=20))
    _given_to(other_radiologist, current)
    _given_to(other_radiologist, waiting)

    following = study_read_next(user=other_radiologist.user, after_study_id=current.id)

    assert following is not None
    assert following.url == review_reading_url(study_id=review.study_id, review_id=review.id)


def test_after_the_study_they_are_on_a_review_is_next_when_no_study_waits(
    review, other_radiologist, site_a, neuro
):
    current = factories.ready_study(site_a, neuro, deadline=timezone.now() + dt.timedelta(hours=1))
    _given_to(other_radiologist, current)

    following = study_read_next(user=other_radiologist.user, after_study_id=current.id)

    assert following is not None
    assert following.url == review_reading_url(study_id=review.study_id, review_id=review.id)
