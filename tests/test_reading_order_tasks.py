"""Where a reader's task (a peer review) stands in their reading order, and what "read next"
gives over studies and tasks together: the rule (worklists.routing, pure: a task ranks as a
routine study with its own deadline; on a tie the study first) and the service
(worklists.services.read_next.reading_order_next), on SQLite (the ORM path) and PostgreSQL
(the claim statement, bounded by the task)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from quality.models import ReviewStatus, ReviewTask
from quality.services.sampling import review_sample
from tests import factories
from tests.quality_support import final_version, policy
from worklists import routing, selectors
from worklists.actors import Actor
from worklists.hooks import ReadingOrderTask
from worklists.models import Assignment, Study, StudyStatus
from worklists.services.claims import reading_order_next
from worklists.services.routing import forget_coverage_cache

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def facts(study_id: int, rank: int, deadline: dt.datetime | None) -> routing.StudyFacts:
    return routing.StudyFacts(
        id=study_id,
        site_id=1,
        worklist_id=1,
        modality="CT",
        priority="ROUTINE",
        routing_rank=rank,
        deadline=deadline,
        ready_at=NOW,
        patient_id=study_id,
        work_units=Decimal("1"),
    )


def test_a_task_ranks_as_a_routine_study_by_its_own_deadline():
    task = routing.TaskBound(
        routing_rank=routing.TASK_ROUTING_RANK, deadline=NOW + dt.timedelta(hours=2)
    )

    assert routing.comes_before_task(facts(1, 3, NOW + dt.timedelta(hours=1)), task)
    assert not routing.comes_before_task(facts(2, 3, NOW + dt.timedelta(hours=3)), task)
    # STAT, urgent and cancer-pathway studies come first, whatever their deadline
    for rank in (0, 1, 2):
        assert routing.comes_before_task(facts(3, rank, NOW + dt.timedelta(days=30)), task)
        assert routing.comes_before_task(facts(4, rank, None), task)


def test_on_an_equal_rank_and_deadline_the_study_comes_first_and_without_one_after():
    deadline = NOW + dt.timedelta(hours=2)
    task = routing.TaskBound(routing_rank=3, deadline=deadline)

    assert routing.comes_before_task(facts(1, 3, deadline), task)
    assert not routing.comes_before_task(facts(2, 3, None), task)
    assert routing.study_position(3, deadline, 10**9) < routing.task_position(3, deadline, 1)


def test_read_next_gives_no_study_after_the_first_task():
    task = routing.TaskBound(routing_rank=3, deadline=NOW + dt.timedelta(hours=2))
    later = facts(1, 3, NOW + dt.timedelta(hours=5))
    sooner = facts(2, 3, NOW + dt.timedelta(hours=1))
    scope = routing.Scope(
        modalities=frozenset({"CT"}),
        pairs_by_tier=(frozenset({(1, 1)}), frozenset(), frozenset()),
    )

    assert routing.read_next([later], held=[], scope=scope, before=task) is None
    assert routing.read_next([], held=[later], scope=scope, before=task) is None
    chosen = routing.read_next([later, sooner], held=[], scope=scope, before=task)
    assert chosen is not None
    assert chosen.study.id == sooner.id


def test_a_study_before_the_task_brings_its_patients_later_study_with_it():
    """The task bounds which study opens, not the bundle: the same patient's other study comes
    along though it ranks after the task (as the PostgreSQL claim statement does)."""
    task = routing.TaskBound(routing_rank=3, deadline=NOW + dt.timedelta(hours=2))
    sooner = facts(1, 3, NOW + dt.timedelta(hours=1))
    same_patient_later = dataclasses.replace(
        facts(2, 3, NOW + dt.timedelta(hours=5)), patient_id=sooner.patient_id
    )
    scope = routing.Scope(
        modalities=frozenset({"CT"}),
        pairs_by_tier=(frozenset({(1, 1)}), frozenset(), frozenset()),
    )

    chosen = routing.read_next([same_patient_later, sooner], held=[], scope=scope, before=task)

    assert chosen is not None
    assert chosen.study.id == sooner.id
    assert [s.id for s in chosen.bundle] == [same_patient_later.id]


def test_the_live_pages_string_keys_sort_as_the_rule():
    deadline = NOW + dt.timedelta(hours=2)
    tie = Study(id=7, routing_rank=3, deadline=deadline)
    later = Study(id=8, routing_rank=3, deadline=deadline + dt.timedelta(minutes=1))
    stat = Study(id=9, routing_rank=0, deadline=deadline + dt.timedelta(days=3))
    no_deadline = Study(id=10, routing_rank=3, deadline=None)
    task = ReadingOrderTask(
        kind="peer-review", id=1, label="Peer review", deadline=deadline, url="/", study=tie
    )

    keys = sorted(
        [
            (selectors.reading_order_key(later), "later"),
            (selectors.task_reading_order_key(task), "task"),
            (selectors.reading_order_key(no_deadline), "no deadline"),
            (selectors.reading_order_key(tie), "tie"),
            (selectors.reading_order_key(stat), "stat"),
        ]
    )
    assert [name for _, name in keys] == ["stat", "tie", "task", "later", "no deadline"]


# The service, on the database ----------------------------------------------------------------


@pytest.fixture
def review(owner, other_radiologist, site_a, neuro):
    """A blind review of the owner's report, assigned to the other radiologist, who is on a
    shift for neuro; due in two hours."""
    policy(neuro, share="100", blind_author=True)
    made = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    assert made is not None
    assert made.reviewer_id == other_radiologist.id
    ReviewTask.objects.filter(id=made.id).update(deadline=timezone.now() + dt.timedelta(hours=2))
    made.refresh_from_db()
    factories.shift(other_radiologist, worklists=(neuro,))
    forget_coverage_cache()
    yield made
    forget_coverage_cache()


def read_next(radiologist):
    return reading_order_next(
        user=radiologist.user,
        radiologist_id=radiologist.id,
        site_ids=None,
        actor=Actor.for_user(radiologist.user),
    )


@pytest.mark.django_db(transaction=True)
def test_the_review_opens_before_a_routine_study_due_later_which_stays_free(
    review, other_radiologist, site_a, neuro
):
    pool = factories.ready_study(site_a, neuro, deadline=timezone.now() + dt.timedelta(hours=24))

    answer = read_next(other_radiologist)

    assert answer is not None
    assert answer.claimed is None
    assert answer.task is not None
    assert (answer.task.kind, answer.task.id, answer.task.study.id) == (
        "peer-review",
        review.id,
        review.study_id,
    )
    assert answer.url == f"/studies/{review.study_id}/read/peer-review/{review.id}/"
    pool.refresh_from_db()
    assert pool.status == StudyStatus.READY
    assert not Assignment.objects.filter(radiologist=other_radiologist).exists()


@pytest.mark.django_db(transaction=True)
def test_a_stat_or_a_routine_study_due_sooner_is_claimed_before_the_review(
    review, other_radiologist, site_a, neuro
):
    now = timezone.now()
    stat = factories.ready_study(
        site_a, neuro, priority="STAT", deadline=now + dt.timedelta(days=2)
    )
    sooner = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=1))

    first = read_next(other_radiologist)
    assert first is not None
    assert first.claimed is not None
    assert first.claimed.study_id == stat.id
    # the STAT is theirs now (claimed, not opened): it stays first in their reading order
    second = read_next(other_radiologist)
    assert second is not None
    assert second.claimed is not None
    assert second.claimed.study_id == stat.id
    assert second.claimed.from_queue
    Study.objects.filter(id=stat.id).update(status=StudyStatus.IN_PROGRESS)  # opened
    third = read_next(other_radiologist)
    assert third is not None
    assert third.claimed is not None
    assert third.claimed.study_id == sooner.id


@pytest.mark.django_db(transaction=True)
def test_a_queued_study_due_after_the_review_waits_for_it(review, other_radiologist, site_a, neuro):
    queued = factories.held_study(other_radiologist, site=site_a, worklist=neuro)
    # marking it ready gave it its contract's deadline: due after the review's
    Study.objects.filter(id=queued.id).update(deadline=timezone.now() + dt.timedelta(hours=6))

    answer = read_next(other_radiologist)

    assert answer is not None
    assert answer.task is not None
    assert answer.task.id == review.id
    queued.refresh_from_db()
    assert queued.status == StudyStatus.ASSIGNED


@pytest.mark.django_db(transaction=True)
def test_a_withdrawn_review_leaves_the_reading_order(review, other_radiologist):
    ReviewTask.objects.filter(id=review.id).update(
        status=ReviewStatus.CANCELLED
    )  # withdrawn: no longer the reader's

    assert read_next(other_radiologist) is None


@pytest.mark.django_db(transaction=True)
def test_a_review_at_a_site_the_reader_no_longer_sees_is_not_in_their_order(
    review, other_radiologist, site_b
):
    answer = reading_order_next(
        user=other_radiologist.user,
        radiologist_id=other_radiologist.id,
        site_ids={site_b.id},
        actor=Actor.for_user(other_radiologist.user),
    )

    assert answer is None
