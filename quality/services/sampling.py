"""Sampling a signed report for peer review (called after the final signature commits).

Idempotent and in one transaction of its own: the decision for a study is a row of its own
(ReviewSampling, one per study), so a second call for the same report finds it and decides
nothing new; the review task is one per study too (a database rule). Never the author: the
routing excludes them and a database check refuses it.

Locks, always in this order: the author's stratum in the worklist (the counters the draw
corrects itself with: two reports of one author signed at once are drawn one after the other),
then the new task, then the eligible reviewers (quality.services.routing).
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
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
# A signature's transaction commits within this: the sweep's mark never passes a moment more
# recent, so a final signed (signed_at) before the mark but committed after it is not skipped.
SETTLE = dt.timedelta(minutes=10)


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
    """Sample every final signed since its worklist's policy became active that has no
    decision yet (the periodic sweep: nothing is lost when the after-commit task was, however
    long the workers were down). At most ``limit`` per run, each in its own transaction; how
    many were decided now. Idempotent: a decided final is never decided again.

    Each policy keeps a mark (swept_until): every final of its worklist signed before it has
    been examined. A run reads the finals from the mark on (the index of finals by signature,
    reports' final_by_signed_at), oldest first, then moves the mark up to where it has looked,
    never closer to now than SETTLE."""
    now = now or timezone.now()
    decided = 0
    for policy in PeerReviewPolicy.objects.filter(is_active=True).order_by("id"):
        if decided >= limit:
            break
        decided += _sweep(policy, now=now, limit=limit - decided)
    return decided


def missed_finals(policy: PeerReviewPolicy, *, since: dt.datetime) -> QuerySet[ReportVersion]:
    """The finals of the policy's worklist signed since ``since`` with no decision, oldest first."""
    return ReportVersion.objects.filter(
        kind=VersionKind.FINAL,
        signed_at__gte=since,
        study__worklist_id=policy.worklist_id,
        study__review_sampling__isnull=True,
    ).order_by("signed_at", "id")


def _sweep(policy: PeerReviewPolicy, *, now: dt.datetime, limit: int) -> int:
    start = policy.swept_until or policy.active_since or now
    batch = list(missed_finals(policy, since=start).values_list("id", "signed_at")[:limit])
    for version_id, _signed_at in batch:
        review_sample(version_id=version_id, now=now)
    # Everything before the last one taken was examined (oldest first); a short batch: all.
    looked_until = batch[-1][1] if len(batch) == limit else now
    mark = max(start, min(looked_until, now - SETTLE))
    # Compare-and-set: a concurrent sweep that moved the mark meanwhile keeps its own.
    PeerReviewPolicy.objects.filter(pk=policy.pk, swept_until=policy.swept_until).update(
        swept_until=mark
    )
    return len(batch)
