"""Peer review under real concurrency: real threads against a real PostgreSQL. The decision
per report, the author's counters and the score each hold once, whoever races."""

from __future__ import annotations

import random

import pytest

from quality.models import ReviewEvent, ReviewSampling, ReviewStatus, ReviewStratum, ReviewTask
from quality.services.errors import ReviewStateConflict
from quality.services.routing import review_route
from quality.services.sampling import review_sample
from quality.services.scoring import review_score
from tests import factories
from tests.db_support import require_postgresql, run_at_once
from tests.quality_support import final_version, policy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RACERS = 6


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    require_postgresql()


def test_one_report_sampled_by_many_workers_at_once_is_decided_once(
    owner, other_radiologist, site_a, neuro
):
    policy(neuro, share="100")
    version = final_version(owner, site=site_a, worklist=neuro)

    results, errors = run_at_once(lambda i: review_sample(version_id=version.id), RACERS)

    assert errors == []
    assert len({task.pk for task in results if task is not None}) == 1
    assert ReviewSampling.objects.filter(study=version.study).count() == 1
    assert ReviewTask.objects.filter(study=version.study).count() == 1
    stratum = ReviewStratum.objects.get(worklist=neuro, author=owner)
    assert (stratum.signed_count, stratum.sampled_count) == (1, 1)


def test_one_authors_reports_sampled_at_once_keep_the_counters_exact(
    owner, other_radiologist, site_a, neuro
):
    policy(neuro, share="50")
    versions = [final_version(owner, site=site_a, worklist=neuro) for _ in range(RACERS)]

    _, errors = run_at_once(
        lambda i: review_sample(version_id=versions[i].id, rng=random.Random(i)), RACERS
    )

    assert errors == []
    stratum = ReviewStratum.objects.get(worklist=neuro, author=owner)
    assert stratum.signed_count == RACERS
    assert abs(stratum.sampled_count - RACERS / 2) <= 1
    assert ReviewTask.objects.filter(author=owner).count() == stratum.sampled_count
    assert ReviewSampling.objects.filter(sampled=True).count() == stratum.sampled_count


def test_a_review_scored_from_many_tabs_at_once_is_scored_once(
    owner, other_radiologist, site_a, neuro
):
    policy(neuro, share="100")
    task = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    assert task is not None

    results, errors = run_at_once(
        lambda i: review_score(
            task_id=task.id, user=other_radiologist.user, score="2a", comment=f"tab {i}"
        ),
        RACERS,
    )

    assert len(results) == 1
    assert len(errors) == RACERS - 1
    assert all(isinstance(e, ReviewStateConflict) for e in errors)
    task.refresh_from_db()
    assert task.status == ReviewStatus.SCORED
    assert ReviewEvent.objects.filter(task=task, to_status="SCORED").count() == 1


def test_reviews_routed_at_the_same_moment_spread_over_the_least_loaded_reviewers(
    owner, site_a, neuro
):
    """Six waiting reviews of six authors routed at once to three equally loaded reviewers:
    the open reviews are counted under the reviewers' locks, so each gets exactly two (read
    before the locks, several routings saw the same reviewer as least loaded)."""
    policy(neuro, share="100")
    owner.is_active = False  # the fixture's reader is not one of the reviewers
    owner.save(update_fields=["is_active"])
    authors = [factories.RadiologistFactory(user__username=f"author{i}") for i in range(RACERS)]
    tasks = []
    for author in authors:  # nobody eligible yet (the authors read no neuro): they wait
        task = review_sample(version_id=final_version(author, site=site_a, worklist=neuro).id)
        assert task is not None
        assert task.status == ReviewStatus.UNASSIGNED
        tasks.append(task)
    reviewers = []
    for i in range(3):
        reviewer = factories.RadiologistFactory(user__username=f"reviewer{i}")
        factories.credential(reviewer, site_a)
        factories.competence(reviewer, neuro)
        reviewers.append(reviewer)

    results, errors = run_at_once(lambda i: review_route(task_id=tasks[i].id), RACERS)

    assert errors == []
    assert {task.status for task in results} == {ReviewStatus.ASSIGNED}
    per_reviewer = {
        r.id: ReviewTask.objects.filter(reviewer=r, status=ReviewStatus.ASSIGNED).count()
        for r in reviewers
    }
    assert sorted(per_reviewer.values()) == [2, 2, 2]
    assert ReviewEvent.objects.filter(to_status="ASSIGNED").count() == RACERS
