"""Peer review in ``manage.py seed_demo``: the thorax worklist reviews 10 % of its signed
reports, blinded, so ``make run`` shows review tasks on the readers' worklist pages, a few
scored ones (one a significant discrepancy) and their figures.

Registered as a demo step in QualityConfig.ready (it runs after the reports' step, which signs
the demo's read studies). Rerunnable: the policy is brought back to its demo state; sampling is
idempotent per report; reviews are scored (each by its own reviewer) on the first run only.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from quality.models import PeerReviewPolicy, ReviewStatus, ReviewTask
from quality.services.sampling import review_sample
from quality.services.scoring import review_score
from reports.models import ReportVersion, VersionKind
from worklists.demo.extensions import DemoContext

SEED = "quality-demo"
WORKLIST = "thorax"
SHARE = Decimal("10")
# The demo's reviews, scored in turn: mostly concurring, one significant discrepancy.
DEMO_SCORES = (
    ("1", ""),
    ("1", ""),
    ("2a", "Lite noduli i venstre overlapp ikke nevnt; neppe klinisk betydning."),
    ("1", ""),
    ("3b", "Sentral lungeemboli høyre side er ikke beskrevet. Bør meldes rekvirent."),
)
# Sampled reports signed within this window; older history stays unsampled (the policy is
# the demo's, not the history's).
WINDOW = dt.timedelta(days=30)


def seed_quality_demo(context: DemoContext) -> None:
    worklist = context.subspecialties[WORKLIST]
    PeerReviewPolicy.objects.update_or_create(
        worklist=worklist,
        defaults={
            "share_percent": SHARE,
            "blind_author": True,
            "days_to_deadline": 14,
            "is_active": True,
        },
    )
    rng = random.Random(SEED)  # noqa: S311 (a reproducible demo, not a secret)
    finals = ReportVersion.objects.filter(
        kind=VersionKind.FINAL,
        study__worklist=worklist,
        signed_at__gte=context.now - WINDOW,
        study__review_sampling__isnull=True,
    ).order_by("signed_at", "id")
    for version_id in finals.values_list("id", flat=True):
        review_sample(version_id=version_id, rng=rng, now=context.now)
    scored = 0
    open_reviews = ReviewTask.objects.filter(
        worklist=worklist, status=ReviewStatus.ASSIGNED
    ).select_related("reviewer__user")
    # Score the older half of the open reviews, so that each reader still has some to do.
    candidates = list(open_reviews.order_by("version__signed_at", "id"))
    if ReviewTask.objects.filter(worklist=worklist, status=ReviewStatus.SCORED).exists():
        candidates = []  # scored on an earlier run: a rerun adds no more
    for task, (score, comment) in zip(
        candidates[: len(candidates) // 2], DEMO_SCORES, strict=False
    ):
        assert task.reviewer is not None  # ASSIGNED: a database rule
        review_score(
            task_id=task.id, user=task.reviewer.user, score=score, comment=comment, now=context.now
        )
        scored += 1
    total = ReviewTask.objects.filter(worklist=worklist).count()
    context.stdout.write(
        f"Peer review: {worklist.name} reviews {SHARE} % of signed reports; "
        f"{total} review tasks, {scored} scored now."
    )
