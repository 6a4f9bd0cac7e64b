"""A blind review's study is withheld from its reviewer's ordinary pages and APIs (the study
page, the reading page, the report) until they have scored it: those name the author. The
pages send them to their review; the APIs refuse with where to read it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quality.reading_order import review_reading_url
from quality.services.scoring import review_score
from tests.quality_support import blind_review, client_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(owner, other_radiologist, site_a, neuro):
    return blind_review(owner, other_radiologist, site=site_a, worklist=neuro)


def study_pages(study_id: int) -> list[str]:
    return [reverse("study", args=[study_id]), reverse("reading", args=[study_id])]


def test_the_blind_reviewer_opening_the_study_or_reading_page_is_sent_to_the_review(
    task, other_radiologist
):
    reviewer = client_of(other_radiologist.user)
    for url in study_pages(task.study_id):
        answer = reviewer.get(url)

        assert answer.status_code == 302, url
        assert answer["Location"] == review_reading_url(study_id=task.study_id, review_id=task.id)
    followed = reviewer.get(reverse("study", args=[task.study_id]), follow=True)
    assert "You are reviewing this report blind" in followed.content.decode()
    assert "Forfattersen" not in followed.content.decode()


def test_the_apis_refuse_the_blind_reviewer_with_where_to_read_it(
    task, other_radiologist, client_for
):
    api = client_for(other_radiologist.user)
    for url in (
        reverse("api-study", args=[task.study_id]),
        reverse("api-report", args=[task.study_id]),
    ):
        answer = api.get(url)

        assert answer.status_code == 403, url
        assert answer.json()["url"] == review_reading_url(study_id=task.study_id, review_id=task.id)
        assert "Forfattersen" not in answer.content.decode()


def test_once_scored_the_study_opens_as_before(task, other_radiologist, client_for):
    review_score(task_id=task.id, user=other_radiologist.user, score="1", comment="")

    assert (
        client_of(other_radiologist.user).get(reverse("study", args=[task.study_id])).status_code
        == 200
    )
    assert (
        client_for(other_radiologist.user)
        .get(reverse("api-report", args=[task.study_id]))
        .status_code
        == 200
    )


def test_without_blinding_nothing_is_withheld(task, other_radiologist):
    task.blind_author = False
    task.save()

    assert (
        client_of(other_radiologist.user).get(reverse("study", args=[task.study_id])).status_code
        == 200
    )


def test_the_author_and_a_coordinator_open_the_study_as_before(task, owner, coordinator):
    for user in (owner.user, coordinator):
        assert client_of(user).get(reverse("study", args=[task.study_id])).status_code == 200


def test_a_post_on_a_withheld_study_is_refused(task, other_radiologist):
    answer = client_of(other_radiologist.user).post(
        reverse("reading-preliminary", args=[task.study_id]), {}
    )

    assert answer.status_code == 403
