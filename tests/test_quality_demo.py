"""Peer review's demo step (quality.demo): the thorax worklist reviews 10 % of its signed
reports, some reviews scored (one significant); rerunning it changes nothing decided."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone

from quality.demo import seed_quality_demo
from quality.models import PeerReviewPolicy, ReviewSampling, ReviewStatus, ReviewTask
from tests import factories
from tests.quality_support import final_version
from worklists.demo.extensions import DemoContext

pytestmark = pytest.mark.django_db


def test_the_demo_gives_thorax_a_policy_review_tasks_and_scored_reviews(site_a):
    thorax = factories.WorklistFactory(code="thorax", name="Thoraxradiologi")
    readers = []
    for n in range(3):
        reader = factories.RadiologistFactory(user__username=f"rad{n}")
        factories.credential(reader, site_a)
        factories.competence(reader, thorax)
        readers.append(reader)
    for _ in range(40):
        for reader in readers:
            final_version(reader, site=site_a, worklist=thorax)
    context = DemoContext(
        sites={"alfa": site_a},
        subspecialties={"thorax": thorax},
        radiologists=readers,
        now=timezone.now(),
        stdout=io.StringIO(),
    )

    seed_quality_demo(context)

    policy = PeerReviewPolicy.objects.get(worklist=thorax)
    assert (policy.share_percent, policy.blind_author, policy.is_active) == (10, True, True)
    for reader in readers:
        assert abs(ReviewTask.objects.filter(author=reader).count() - 4) <= 1
    assert ReviewTask.objects.filter(status=ReviewStatus.SCORED, score="3b").count() == 1
    assert ReviewTask.objects.filter(status=ReviewStatus.ASSIGNED).exists()

    tasks_before = ReviewTask.objects.count()
    decisions = ReviewSampling.objects.count()
    seed_quality_demo(context)
    assert ReviewSampling.objects.count() == decisions == 120
    assert ReviewTask.objects.count() == tasks_before
    assert ReviewTask.objects.filter(status=ReviewStatus.SCORED).count() == 5
