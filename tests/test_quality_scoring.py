"""Scoring a review (quality.services.scoring): only its reviewer, once, on the RADPEER scale;
a significant discrepancy tells the coordinators and the author, who may add an addendum; a
review never goes to the RIS. A coordinator may withdraw an open review."""

from __future__ import annotations

import pytest
from django.db import transaction

from hl7_interface.models import OutboundMessage
from quality.models import ReviewStatus
from quality.services.errors import (
    NotACoordinator,
    NotTheReviewer,
    ReviewInvalid,
    ReviewNotFound,
    ReviewStateConflict,
)
from quality.services.scoring import DISCREPANCY_ALERT, review_cancel, review_score
from reports.models import ReportVersion
from reports.services.signing import report_amend
from tests import factories
from tests.quality_support import policy, sampled_review, sign_through_the_service
from worklists.models import CoordinatorAlert

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(owner, other_radiologist, site_a, neuro):
    """The owner's report, under review by the other radiologist."""
    return sampled_review(owner, other_radiologist, site=site_a, worklist=neuro)


def test_the_reviewer_scores_concur_and_the_review_is_done(task, other_radiologist):
    outbox_before = OutboundMessage.objects.count()

    scored = review_score(task_id=task.id, user=other_radiologist.user, score="1", comment="")

    task.refresh_from_db()
    assert (task.status, task.score, task.comment) == (ReviewStatus.SCORED, "1", "")
    assert task.reviewed_at is not None
    assert scored.pk == task.pk
    last = task.events.last()
    assert last is not None
    assert (last.from_status, last.to_status, last.actor_id) == (
        "ASSIGNED",
        "SCORED",
        other_radiologist.user_id,
    )
    assert not CoordinatorAlert.objects.filter(kind=DISCREPANCY_ALERT).exists()
    # A review never goes to the RIS.
    assert OutboundMessage.objects.count() == outbox_before


@pytest.mark.parametrize("score", ["2b", "3b"])
def test_a_significant_discrepancy_alerts_the_coordinators(task, other_radiologist, score):
    outbox_before = OutboundMessage.objects.count()
    review_score(
        task_id=task.id, user=other_radiologist.user, score=score, comment="Oversett lungeemboli."
    )

    alert = CoordinatorAlert.objects.get(kind=DISCREPANCY_ALERT)
    assert alert.study_id == task.study_id
    assert alert.is_open
    assert alert.data == {
        "review_id": task.id,
        "score": score,
        "scale": "radpeer",
        "author_id": task.author_id,
    }
    assert OutboundMessage.objects.count() == outbox_before


@pytest.mark.parametrize("score", ["1", "2a", "3a"])
def test_a_minor_or_no_discrepancy_raises_no_alert(task, other_radiologist, score):
    review_score(task_id=task.id, user=other_radiologist.user, score=score, comment="Liten ting.")

    assert not CoordinatorAlert.objects.filter(kind=DISCREPANCY_ALERT).exists()


def test_a_discrepancy_needs_a_comment(task, other_radiologist):
    with pytest.raises(ReviewInvalid) as refused:
        review_score(task_id=task.id, user=other_radiologist.user, score="2a", comment="  ")
    assert refused.value.field == "comment"
    task.refresh_from_db()
    assert task.status == ReviewStatus.ASSIGNED
    assert task.events.count() == 2


def test_a_score_off_the_scale_is_refused(task, other_radiologist):
    with pytest.raises(ReviewInvalid) as refused:
        review_score(task_id=task.id, user=other_radiologist.user, score="4", comment="x")
    assert refused.value.field == "score"


def test_only_the_assigned_reviewer_scores(task, owner, coordinator):
    # The author sees the study but is not the reviewer; a coordinator is no reviewer either.
    for user in (owner.user, coordinator):
        with pytest.raises(NotTheReviewer):
            review_score(task_id=task.id, user=user, score="1", comment="")
    task.refresh_from_db()
    assert task.status == ReviewStatus.ASSIGNED


def test_a_user_of_another_site_finds_no_such_review(task, outsider):
    with pytest.raises(ReviewNotFound):
        review_score(task_id=task.id, user=outsider.user, score="1", comment="")


def test_a_review_is_scored_once(task, other_radiologist):
    review_score(task_id=task.id, user=other_radiologist.user, score="1", comment="")
    with pytest.raises(ReviewStateConflict):
        review_score(task_id=task.id, user=other_radiologist.user, score="3b", comment="Nei.")
    task.refresh_from_db()
    assert task.score == "1"
    assert task.events.filter(to_status="SCORED").count() == 1


def test_a_coordinator_withdraws_an_open_review_and_nobody_else_may(
    task, other_radiologist, coordinator
):
    with pytest.raises(NotACoordinator):
        review_cancel(task_id=task.id, user=other_radiologist.user, reason="Ferie")

    review_cancel(task_id=task.id, user=coordinator, reason="Leseren har sluttet")

    task.refresh_from_db()
    assert task.status == ReviewStatus.CANCELLED
    last = task.events.last()
    assert last is not None
    assert last.note == "Leseren har sluttet"
    with pytest.raises(ReviewStateConflict):
        review_score(task_id=task.id, user=other_radiologist.user, score="1", comment="")


@pytest.mark.django_db(transaction=True)
def test_the_author_adds_an_addendum_after_a_significant_discrepancy(
    owner, other_radiologist, site_a, neuro
):
    """The existing addendum flow, unchanged: the author amends their signed report after the
    review (delivered to the RIS as C; the review itself sends nothing)."""
    policy(neuro, share="100")
    study = sign_through_the_service(owner, site=site_a, worklist=neuro)
    task = study.review_task
    outbox_after_signing = OutboundMessage.objects.filter(study_id=study.id).count()
    review_score(task_id=task.id, user=other_radiologist.user, score="3b", comment="Se lungene.")
    assert OutboundMessage.objects.filter(study_id=study.id).count() == outbox_after_signing

    with transaction.atomic():
        addendum = report_amend(
            study_id=study.id,
            user=owner.user,
            password=factories.PASSWORD,
            kind="ADDENDUM",
            reason="Etter fagfellevurdering",
            addendum_text="Lungeemboli i høyre underlapp.",
        )

    assert addendum.kind == "ADDENDUM"
    assert ReportVersion.objects.filter(study=study).count() == 2
    assert OutboundMessage.objects.filter(study_id=study.id).count() == outbox_after_signing + 1
