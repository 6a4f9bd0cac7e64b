"""Reviews past their deadline (quality.services.overdue): the coordinators get one alert per
review, shown in their language; it closes itself when the review is scored or withdrawn, and a
coordinator who closed it by hand is not asked again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from quality.services.overdue import OVERDUE_ALERT, reviews_flag_overdue
from quality.services.reassignment import review_reassign
from quality.services.scoring import review_cancel, review_score
from tests import factories
from tests.quality_support import sampled_review
from worklists.actors import Actor
from worklists.console.selectors import alert_kind_label, alert_message_shown
from worklists.models import CoordinatorAlert
from worklists.services.alerts import alert_resolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(owner, other_radiologist, site_a, neuro):
    """The owner's report, under review by the other radiologist (deadline in 14 days)."""
    return sampled_review(owner, other_radiologist, site=site_a, worklist=neuro)


def _after_deadline(task) -> dt.datetime:
    return task.deadline + dt.timedelta(minutes=1)


def test_a_review_within_its_deadline_raises_nothing(task):
    assert reviews_flag_overdue(now=task.deadline - dt.timedelta(minutes=1)) == 0
    assert not CoordinatorAlert.objects.filter(kind=OVERDUE_ALERT).exists()


def test_a_review_past_its_deadline_raises_one_alert_on_its_study(task, other_radiologist):
    assert reviews_flag_overdue(now=_after_deadline(task)) == 1
    assert reviews_flag_overdue(now=_after_deadline(task) + dt.timedelta(hours=1)) == 0

    alert = CoordinatorAlert.objects.get(kind=OVERDUE_ALERT)
    assert (alert.study_id, alert.site_id, alert.raise_count) == (
        task.study_id,
        task.study.site_id,
        1,
    )
    assert alert.data["review_id"] == task.id
    assert alert.data["reviewer_id"] == other_radiologist.id
    assert alert.data["waiting_for_reviewer"] is False
    assert alert.is_open


def test_the_coordinator_reads_the_alert_in_their_language(task):
    reviews_flag_overdue(now=_after_deadline(task))
    alert = CoordinatorAlert.objects.get(kind=OVERDUE_ALERT)
    deadline = timezone.localtime(task.deadline)

    with translation.override("nb"):
        label, message = alert_kind_label(alert.kind), alert_message_shown(alert)

    assert label == "Fagfellevurdering over fristen"
    assert f"{deadline:%d.%m.%Y %H:%M}" in message
    assert "fagfellevurdering" in message


def test_scoring_the_review_closes_its_alert(task, other_radiologist):
    reviews_flag_overdue(now=_after_deadline(task))

    review_score(task_id=task.id, user=other_radiologist.user, score="1", comment="")

    alert = CoordinatorAlert.objects.get(kind=OVERDUE_ALERT)
    assert alert.resolved_at is not None
    assert alert.resolved_by_id == other_radiologist.user_id


def test_withdrawing_the_review_closes_its_alert(task, coordinator):
    reviews_flag_overdue(now=_after_deadline(task))

    review_cancel(task_id=task.id, user=coordinator, reason="The reviewer left.")

    assert CoordinatorAlert.objects.get(kind=OVERDUE_ALERT).resolved_at is not None


def test_an_alert_closed_by_a_coordinator_is_not_raised_again(task, coordinator):
    reviews_flag_overdue(now=_after_deadline(task))
    alert = CoordinatorAlert.objects.get(kind=OVERDUE_ALERT)
    alert_resolve(alert_id=alert.id, actor=Actor.for_user(coordinator), resolution="Reminded.")

    assert reviews_flag_overdue(now=_after_deadline(task) + dt.timedelta(days=1)) == 0
    assert CoordinatorAlert.objects.filter(kind=OVERDUE_ALERT).count() == 1


def test_a_reassigned_late_review_is_raised_again_for_its_new_reviewer(task, coordinator):
    third = factories.RadiologistFactory(user__username="third")
    factories.credential(third, task.study.site)
    factories.competence(third, task.worklist)
    reviews_flag_overdue(now=_after_deadline(task))
    first = CoordinatorAlert.objects.get(kind=OVERDUE_ALERT)

    review_reassign(
        task_id=task.id, user=coordinator, reviewer_id=third.id, reason="Away for two weeks."
    )
    first.refresh_from_db()
    assert first.resolved_at is not None
    assert reviews_flag_overdue(now=_after_deadline(task) + dt.timedelta(minutes=5)) == 1

    again = CoordinatorAlert.objects.get(kind=OVERDUE_ALERT, resolved_at__isnull=True)
    assert again.data["reviewer_id"] == third.id
