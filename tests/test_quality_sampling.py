"""Peer-review sampling (quality.sampling, quality.services.sampling): a configured share of
each author's signed reports, random but stratified by author; never twice; after commit of the
signature; never reviewed by the author."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from quality import sampling
from quality.models import (
    ReviewEvent,
    ReviewSampling,
    ReviewScale,
    ReviewStatus,
    ReviewStratum,
    ReviewTask,
)
from quality.services.policies import policy_save
from quality.services.sampling import (
    SETTLE,
    missed_finals,
    review_sample,
    reviews_sample_missed,
)
from tests import factories
from tests.db_support import require_postgresql
from tests.quality_support import final_version, policy, sign_through_the_service

# The promise, per author: after n signed reports, |sampled - n * share| <= 1.
TOLERANCE = 1

shares = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2)


@settings(max_examples=200, deadline=None)
@given(
    share=shares,
    authors=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=600),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_every_authors_sampled_share_stays_within_one_report_of_the_configured_share(
    share, authors, seed
):
    rng = random.Random(seed)
    signed: Counter[int] = Counter()
    sampled: Counter[int] = Counter()
    for author in authors:
        taken = sampling.draw(
            share_percent=share, signed=signed[author], sampled=sampled[author], chance=rng.random()
        )
        signed[author] += 1
        sampled[author] += taken
        assert abs(sampled[author] - signed[author] * share / 100) <= TOLERANCE


def test_a_large_seeded_sample_meets_the_share_per_author_and_stays_random():
    """10 % of 5 000 reports of each of three authors: 500 each, give or take one; and which
    reports are taken differs from seed to seed (a fixed pattern would be gamed)."""
    picks = []
    for seed in (1, 2):
        rng = random.Random(seed)
        signed: Counter[int] = Counter()
        sampled: Counter[int] = Counter()
        taken_at: list[int] = []
        for i in range(15_000):
            author = i % 3
            if sampling.draw(
                share_percent=Decimal("10"),
                signed=signed[author],
                sampled=sampled[author],
                chance=rng.random(),
            ):
                sampled[author] += 1
                taken_at.append(i)
            signed[author] += 1
        assert all(abs(sampled[a] - 500) <= TOLERANCE for a in range(3)), sampled
        picks.append(taken_at)
    assert picks[0] != picks[1]


def test_a_share_of_100_percent_takes_every_report():
    assert all(
        sampling.draw(share_percent=Decimal("100"), signed=n, sampled=n, chance=0.999)
        for n in range(50)
    )


def test_inconsistent_counters_are_refused():
    with pytest.raises(ValueError, match="inconsistent"):
        sampling.draw(share_percent=Decimal("10"), signed=2, sampled=3, chance=0.5)


@pytest.mark.django_db
def test_the_service_meets_the_share_for_each_author_of_a_worklist(
    owner, other_radiologist, outsider, site_a, neuro
):
    """Three authors, 60 reports each, 20 %: each author's stratum holds 12, give or take one,
    and no report is ever reviewed by its author."""
    policy(neuro, share="20")
    factories.credential(outsider, site_a)
    rng = random.Random(18)
    for _ in range(60):
        for author in (owner, other_radiologist, outsider):
            review_sample(version_id=final_version(author, site=site_a, worklist=neuro).id, rng=rng)

    for author in (owner, other_radiologist, outsider):
        stratum = ReviewStratum.objects.get(worklist=neuro, author=author)
        assert stratum.signed_count == 60
        assert abs(stratum.sampled_count - 12) <= TOLERANCE
        assert ReviewTask.objects.filter(author=author).count() == stratum.sampled_count
    assert ReviewSampling.objects.count() == 180
    tasks = ReviewTask.objects.all()
    assert tasks.filter(reviewer__isnull=True).count() == 0  # two others were always eligible
    assert all(task.reviewer_id != task.author_id for task in tasks)


@pytest.mark.django_db
def test_sampling_a_report_again_decides_nothing_new(owner, other_radiologist, site_a, neuro):
    policy(neuro, share="100")
    version = final_version(owner, site=site_a, worklist=neuro)

    first = review_sample(version_id=version.id)
    again = review_sample(version_id=version.id)

    assert first is not None
    assert again is not None
    assert first.pk == again.pk
    assert ReviewTask.objects.filter(study=version.study).count() == 1
    assert ReviewSampling.objects.filter(study=version.study).count() == 1
    stratum = ReviewStratum.objects.get(worklist=neuro, author=owner)
    assert (stratum.signed_count, stratum.sampled_count) == (1, 1)


@pytest.mark.django_db
def test_the_database_refuses_a_second_review_of_a_report(owner, other_radiologist, site_a, neuro):
    policy(neuro, share="100")
    version = final_version(owner, site=site_a, worklist=neuro)
    task = review_sample(version_id=version.id)
    assert task is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewTask.objects.create(
            study=version.study,
            version=version,
            worklist=neuro,
            author=owner,
            blind_author=True,
            created_at=task.created_at,
            deadline=task.deadline,
        )


@pytest.mark.django_db
def test_the_database_refuses_a_review_by_its_author(owner, other_radiologist, site_a, neuro):
    policy(neuro, share="100")
    task = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    assert task is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewTask.objects.filter(pk=task.pk).update(reviewer=owner)


@pytest.mark.django_db
def test_a_sampled_report_whose_only_colleague_is_its_author_waits_unassigned(owner, site_a, neuro):
    policy(neuro, share="100", days_to_deadline=7)
    version = final_version(owner, site=site_a, worklist=neuro)

    task = review_sample(version_id=version.id)

    assert task is not None
    assert (task.status, task.reviewer_id) == (ReviewStatus.UNASSIGNED, None)
    assert (task.deadline - task.created_at).days == 7
    events = list(ReviewEvent.objects.filter(task=task).values_list("from_status", "to_status"))
    assert events == [("", "UNASSIGNED")]


@pytest.mark.django_db
def test_without_an_active_policy_nothing_is_sampled(owner, other_radiologist, site_a, neuro):
    policy(neuro, share="100", is_active=False)
    version = final_version(owner, site=site_a, worklist=neuro)

    assert review_sample(version_id=version.id) is None
    assert not ReviewSampling.objects.exists()
    assert not ReviewStratum.objects.exists()


@pytest.mark.django_db
def test_signing_a_final_report_samples_it_after_the_signature_commits(
    owner, other_radiologist, site_a, neuro, django_capture_on_commit_callbacks
):
    policy(neuro, share="100", blind_author=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        study = sign_through_the_service(owner, site=site_a, worklist=neuro)
        # Not yet: the signature has not committed.
        assert not ReviewTask.objects.filter(study=study).exists()
    for callback in callbacks:
        callback()

    task = ReviewTask.objects.get(study=study)
    assert task.author_id == owner.id
    assert task.reviewer_id == other_radiologist.id
    assert task.status == ReviewStatus.ASSIGNED
    assert task.blind_author is True
    assert task.version.kind == "FINAL"
    events = list(task.events.values_list("from_status", "to_status", "actor_label"))
    assert events == [
        ("", "UNASSIGNED", "system:peer-review"),
        ("UNASSIGNED", "ASSIGNED", "system:peer-review"),
    ]


@pytest.mark.django_db
def test_the_sweep_samples_a_recent_final_whose_after_commit_sampling_was_lost(
    owner, other_radiologist, site_a, neuro
):
    policy(neuro, share="100")
    lost = final_version(owner, site=site_a, worklist=neuro)
    old = final_version(
        owner, site=site_a, worklist=neuro, signed_at=timezone.now() - dt.timedelta(days=2)
    )

    assert reviews_sample_missed() == 1
    assert ReviewTask.objects.filter(study=lost.study).exists()
    assert not ReviewSampling.objects.filter(study=old.study).exists()
    # Decided: the next sweep has nothing to do.
    assert reviews_sample_missed() == 0


@pytest.mark.django_db
def test_the_sweep_samples_a_final_signed_days_ago_while_the_workers_were_down(
    owner, other_radiologist, site_a, neuro
):
    """Workers down for days: every final signed since the policy started and never decided is
    sampled, not only the last hour's; one signed before the policy started is not."""
    now = timezone.now()
    policy(neuro, share="100", active_since=now - dt.timedelta(days=10))
    before = final_version(
        owner, site=site_a, worklist=neuro, signed_at=now - dt.timedelta(days=11)
    )
    days_ago = final_version(
        owner, site=site_a, worklist=neuro, signed_at=now - dt.timedelta(days=3)
    )

    assert reviews_sample_missed() == 1

    task = ReviewTask.objects.get(study=days_ago.study)
    assert task.reviewer_id == other_radiologist.id
    assert not ReviewSampling.objects.filter(study=before.study).exists()
    assert reviews_sample_missed() == 0  # idempotent: decided once


@pytest.mark.django_db
def test_the_sweep_takes_a_bounded_batch_and_its_mark_never_skips_a_final(
    owner, other_radiologist, site_a, neuro
):
    now = timezone.now()
    chosen = policy(neuro, share="100", active_since=now - dt.timedelta(days=30))
    missed = [
        final_version(
            owner, site=site_a, worklist=neuro, signed_at=now - dt.timedelta(days=d, minutes=1)
        )
        for d in (20, 9, 9, 2)
    ]

    assert reviews_sample_missed(now=now, limit=2) == 2
    chosen.refresh_from_db()
    # The mark moved up to the last one taken, oldest first: the two older are decided.
    assert chosen.swept_until == missed[1].signed_at
    assert ReviewSampling.objects.filter(study__in=[v.study for v in missed[:2]]).count() == 2
    assert reviews_sample_missed(now=now, limit=2) == 2
    assert reviews_sample_missed(now=now, limit=2) == 0
    assert ReviewSampling.objects.filter(study__in=[v.study for v in missed]).count() == 4
    chosen.refresh_from_db()
    # A short batch moves the mark to SETTLE before now, never closer: a final signed since
    # (or still committing) is found by the next run.
    assert chosen.swept_until == now - SETTLE
    late = final_version(
        owner, site=site_a, worklist=neuro, signed_at=now - dt.timedelta(minutes=5)
    )
    assert reviews_sample_missed(now=now) == 1
    assert ReviewSampling.objects.filter(study=late.study).exists()


@pytest.mark.django_db
def test_a_policy_switched_back_on_in_the_admin_starts_again_then(neuro):
    chosen = policy(neuro, share="100", is_active=False, active_since=None)
    chosen.is_active = True

    policy_save(policy=chosen, was_active=False)

    chosen.refresh_from_db()
    assert chosen.active_since is not None
    assert timezone.now() - chosen.active_since < dt.timedelta(minutes=1)
    assert chosen.swept_until is None


@pytest.mark.django_db
def test_the_sweeps_statement_can_read_the_finals_by_their_signature_index(neuro):
    """On PostgreSQL: with sequential scans off (the tables are tiny here), the sweep's
    statement reads reports' final_by_signed_at, the partial index of finals by signature."""
    require_postgresql("the plan is PostgreSQL's")
    chosen = policy(neuro, share="100")
    query = missed_finals(chosen, since=timezone.now()).values_list("id", "signed_at")[:500]
    with connection.cursor() as cursor:
        # The plan follows the tables' statistics: what autovacuum last saw of another test's
        # rows otherwise (a plan through the study's worklist index then, now and again).
        cursor.execute("ANALYZE worklists_study, reports_reportversion, quality_reviewsampling")
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "final_by_signed_at" in plan, plan


@pytest.mark.django_db
def test_switching_a_policy_back_on_in_the_admin_restarts_it(neuro, coordinator):
    long_ago = timezone.now() - dt.timedelta(days=100)
    chosen = policy(neuro, share="10", is_active=False, active_since=long_ago)
    coordinator.is_staff = True
    coordinator.is_superuser = True
    coordinator.save()
    client = Client()
    client.force_login(coordinator)
    form = {
        "worklist": neuro.id,
        "share_percent": "10",
        "blind_author": "on",
        "days_to_deadline": "14",
        "scale": ReviewScale.objects.get(code="radpeer").id,
    }

    kept_off = client.post(reverse("admin:quality_peerreviewpolicy_change", args=[chosen.id]), form)
    chosen.refresh_from_db()
    assert kept_off.status_code == 302
    assert chosen.active_since == long_ago  # still off: nothing starts

    switched = client.post(
        reverse("admin:quality_peerreviewpolicy_change", args=[chosen.id]),
        {**form, "is_active": "on"},
    )

    assert switched.status_code == 302
    chosen.refresh_from_db()
    assert chosen.is_active
    assert chosen.active_since is not None
    assert timezone.now() - chosen.active_since < dt.timedelta(minutes=1)
