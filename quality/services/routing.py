"""Who reviews a sampled report: an eligible radiologist, the one with the fewest open reviews.

Eligible: active, competent in the report's worklist, holding a credential for the study's site
valid today on the site's clock (the core's rule:
worklists.selectors.radiologists_credentialed_for), and never the author. Reviews are not
urgent: no shift is needed. When nobody is eligible the review waits UNASSIGNED, where the
coordinators see it, and the periodic sweep tries again.

Locks, always in this order: the review task, then the chosen reviewer's radiologist row (FOR
NO KEY UPDATE), so that two routings choosing by open reviews at once take turns, and the
chosen reviewer is checked again under the lock.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from quality.models import ReviewStatus, ReviewTask
from quality.services.events import transition_locked
from reports.models import IndependentRead
from worklists.actors import Actor
from worklists.models import Radiologist, Study
from worklists.selectors import radiologists_credentialed_for

ROUTER = Actor.system("peer-review")


def eligible_reviewers(
    *, study: Study, worklist_id: int, author_id: int, now: dt.datetime
) -> QuerySet[Radiologist]:
    """Eligible reviewers of ``study``'s report, fewest open (assigned) reviews first: never
    its author, nor a reader whose independent read went into it (a double read's final)."""
    return (
        radiologists_credentialed_for(site=study.site, now=now)
        .filter(competences__worklist_id=worklist_id)
        .exclude(id=author_id)
        .exclude(
            id__in=IndependentRead.objects.filter(double_read__study_id=study.id).values(
                "radiologist_id"
            )
        )
        .annotate(
            open_reviews=Count("review_tasks", filter=Q(review_tasks__status=ReviewStatus.ASSIGNED))
        )
        .order_by("open_reviews", "id")
    )


def route_locked(task: ReviewTask, *, now: dt.datetime, actor: Actor = ROUTER) -> ReviewTask:
    """Assign the UNASSIGNED task (its row locked by the caller) to the best eligible reviewer;
    leave it waiting when there is none. The caller owns the transaction."""
    if task.status != ReviewStatus.UNASSIGNED:
        return task
    study = Study.objects.select_related("site").get(pk=task.study_id)
    for candidate_id in eligible_reviewers(
        study=study, worklist_id=task.worklist_id, author_id=task.author_id, now=now
    ).values_list("id", flat=True)[:5]:
        locked = (
            Radiologist.objects.select_for_update(no_key=True)
            .filter(pk=candidate_id, is_active=True)
            .values_list("id", flat=True)
            .first()
        )
        # Deactivated between the read and the lock: the next one.
        if locked is not None and locked != task.author_id:
            return transition_locked(
                task,
                to_status=ReviewStatus.ASSIGNED,
                actor=actor,
                at=now,
                note="fewest open reviews",
                reviewer_id=locked,
                assigned_at=now,
            )
    return task


def review_route(*, task_id: int, now: dt.datetime | None = None) -> ReviewTask:
    """Route one waiting review (the sweep's step; a task routed meanwhile is left as it is)."""
    now = now or timezone.now()
    with transaction.atomic():
        task = ReviewTask.objects.select_for_update().get(pk=task_id)
        return route_locked(task, now=now)


def reviews_route_waiting(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Try every waiting review again (a reviewer may have become eligible); how many were
    assigned. Each in its own transaction: one failure does not undo the others."""
    assigned = 0
    waiting = ReviewTask.objects.filter(status=ReviewStatus.UNASSIGNED).order_by("deadline", "id")
    for task_id in list(waiting.values_list("id", flat=True)[:limit]):
        if review_route(task_id=task_id, now=now).status == ReviewStatus.ASSIGNED:
            assigned += 1
    return assigned
