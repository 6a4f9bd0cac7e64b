"""Sampling a signed report for peer review (called after the final signature commits).

Idempotent and in one transaction of its own: the decision for a study is a row of its own
(ReviewSampling, one per study), so a second call for the same report finds it and decides
nothing new; the review task is one per study too (a database rule). Never the author: the
routing excludes them and a database check refuses it.

Locks, always in this order: the author's stratum in the worklist (the counters the draw
corrects itself with: two reports of one author signed at once are drawn one after the other),
then the new task, then its reviewer (quality.services.routing).
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import IntegrityError, transaction
from django.utils import timezone

from quality import sampling
from quality.models import (
    PeerReviewPolicy,
    ReviewSampling,
    ReviewStatus,
    ReviewStratum,
    ReviewTask,
)
from quality.scales import scale_id_of
from quality.services.events import event_record
from quality.services.routing import ROUTER, route_locked
from reports.models import ReportVersion, VersionKind

_rng = random.SystemRandom()
# How far back the sweep looks for signed finals that were never decided (the after-commit
# task lost: a broker down, a worker killed). Short: a policy switched on does not reach back.
SWEEP_WINDOW = dt.timedelta(hours=1)


def review_sample(
    *, version_id: int, rng: random.Random | None = None, now: dt.datetime | None = None
) -> ReviewTask | None:
    """Decide whether the signed final report ``version_id`` is reviewed; if so create its
    review task and route it. Returns the study's review task (made now or before), or None."""
    now = now or timezone.now()
    version = (
        ReportVersion.objects.select_related("study")
        .filter(pk=version_id, kind=VersionKind.FINAL)
        .first()
    )
    if version is None or (worklist_id := version.study.worklist_id) is None:
        return None
    study = version.study
    policy = PeerReviewPolicy.objects.filter(worklist_id=worklist_id, is_active=True).first()
    if policy is None:
        return None
    if ReviewSampling.objects.filter(study_id=study.id).exists():
        return ReviewTask.objects.filter(study_id=study.id).first()
    try:
        with transaction.atomic():
            return _decide(version=version, policy=policy, rng=rng or _rng, now=now)
    except IntegrityError:
        # Decided by a concurrent call between our look and our insert: theirs stands.
        return ReviewTask.objects.filter(study_id=study.id).first()


def _decide(
    *, version: ReportVersion, policy: PeerReviewPolicy, rng: random.Random, now: dt.datetime
) -> ReviewTask | None:
    study = version.study
    ReviewStratum.objects.get_or_create(
        worklist_id=policy.worklist_id, author_id=version.signed_by_id
    )
    stratum = ReviewStratum.objects.select_for_update().get(
        worklist_id=policy.worklist_id, author_id=version.signed_by_id
    )
    taken = sampling.draw(
        share_percent=policy.share_percent,
        signed=stratum.signed_count,
        sampled=stratum.sampled_count,
        chance=rng.random(),
    )
    # The decision first: a concurrent decision for this study fails here, before counting.
    ReviewSampling.objects.create(
        study=study, version=version, stratum=stratum, sampled=taken, decided_at=now
    )
    stratum.signed_count += 1
    stratum.sampled_count += int(taken)
    stratum.save(update_fields=["signed_count", "sampled_count"])
    if not taken:
        return None
    task = ReviewTask.objects.create(
        study=study,
        version=version,
        worklist_id=policy.worklist_id,
        author_id=version.signed_by_id,
        status=ReviewStatus.UNASSIGNED,
        blind_author=policy.blind_author,
        scale_id=scale_id_of(policy),
        created_at=now,
        deadline=now + dt.timedelta(days=policy.days_to_deadline),
    )
    event_record(
        task,
        from_status="",
        actor=ROUTER,
        at=now,
        note=f"sampled at {policy.share_percent} %",
    )
    return route_locked(task, now=now)


def reviews_sample_missed(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Sample the finals signed in the last SWEEP_WINDOW in a worklist with an active policy
    that have no decision yet (the periodic sweep: nothing is lost when the after-commit task
    was). Each in its own transaction; how many were decided now."""
    now = now or timezone.now()
    missed = ReportVersion.objects.filter(
        kind=VersionKind.FINAL,
        signed_at__gte=now - SWEEP_WINDOW,
        study__worklist__peer_review_policy__is_active=True,
        study__review_sampling__isnull=True,
    ).order_by("signed_at", "id")
    decided = 0
    for version_id in list(missed.values_list("id", flat=True)[:limit]):
        review_sample(version_id=version_id, now=now)
        decided += 1
    return decided
