"""Who reviews a sampled report: an eligible radiologist, the one with the fewest open reviews.

Eligible: active, competent in the report's worklist, holding a credential for the study's site
valid today on the site's clock (the core's rule:
worklists.selectors.radiologists_credentialed_for), and never an author: the final's signer,
the signer of any earlier version, nor anyone whose read or draft went into a double-read
final. Reviews are not urgent: no shift is needed. When nobody is eligible the review waits
UNASSIGNED, where the coordinators see it, and the periodic sweep tries again.

Locks, always in this order: the review task, then every eligible reviewer's radiologist row
(FOR NO KEY UPDATE, by id), and only then the open reviews are counted. Two routings at once
thus take turns over the same candidates: the second counts after the first has committed its
assignment (each statement of READ COMMITTED sees what was committed before it), so both never
go to the same least-loaded reviewer. Who is eligible is read before the locks (credentials,
competences: they change rarely, and a candidate deactivated meanwhile is dropped under the
lock); the counts, which every routing changes, only after.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from quality.models import ReviewStatus, ReviewTask
from quality.services.events import transition_locked
from reports.models import IndependentRead, ReportVersion
from worklists.actors import Actor
from worklists.models import Radiologist, Study
from worklists.selectors import radiologists_credentialed_for

ROUTER = Actor.system("peer-review")


def eligible_reviewers(
    *, study: Study, worklist_id: int, author_id: int, now: dt.datetime
) -> QuerySet[Radiologist]:
    """Eligible reviewers of ``study``'s report, fewest open (assigned) reviews first (for
    showing: routing counts again under the locks): never its author, nor a reader whose
    independent read went into it (a double read's final)."""
    return (
        _eligible(study=study, worklist_id=worklist_id, author_id=author_id, now=now)
        .annotate(
            open_reviews=Count("review_tasks", filter=Q(review_tasks__status=ReviewStatus.ASSIGNED))
        )
        .order_by("open_reviews", "id")
    )


def _eligible(
    *, study: Study, worklist_id: int, author_id: int, now: dt.datetime
) -> QuerySet[Radiologist]:
    return (
        radiologists_credentialed_for(site=study.site, now=now)
        .filter(competences__worklist_id=worklist_id)
        .exclude(id=author_id)
        .exclude(id__in=_authors_of_study(study.id))
    )


def _authors_of_study(study_id: int) -> set[int]:
    """Everyone whose words are in the study's report besides its final signer: the signer of
    any earlier version (a preliminary), the readers whose independent reads went into a
    double-read final and whoever wrote a draft of one of those reads."""
    ids = set(
        ReportVersion.objects.filter(study_id=study_id).values_list("signed_by_id", flat=True)
    )
    reads = IndependentRead.objects.filter(double_read__study_id=study_id)
    ids.update(reads.values_list("radiologist_id", flat=True))
    ids.update(
        IndependentRead.draft_authors.through.objects.filter(
            independentread__double_read__study_id=study_id
        ).values_list("radiologist_id", flat=True)
    )
    return ids


def eligible_ids(task: ReviewTask, *, now: dt.datetime) -> list[int]:
    """The ids of the task's eligible reviewers (routing's rule, also a reassignment's)."""
    study = Study.objects.select_related("site").get(pk=task.study_id)
    return list(
        _eligible(study=study, worklist_id=task.worklist_id, author_id=task.author_id, now=now)
        .order_by()
        .values_list("id", flat=True)
        .distinct()
    )


def lock_reviewers(ids: list[int]) -> list[int]:
    """Lock the radiologist rows of ``ids`` that are still active, in id order (one fixed order:
    two callers locking overlapping sets never deadlock); the ids locked. The caller owns the
    transaction."""
    return list(
        Radiologist.objects.select_for_update(no_key=True)
        .filter(pk__in=ids, is_active=True)
        .order_by("id")
        .values_list("id", flat=True)
    )


def open_review_counts(reviewer_ids: list[int]) -> dict[int, int]:
    """Assigned (open) reviews per reviewer: read after their rows are locked."""
    return dict(
        ReviewTask.objects.filter(reviewer_id__in=reviewer_ids, status=ReviewStatus.ASSIGNED)
        .values("reviewer_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("reviewer_id", "n")
    )


def route_locked(task: ReviewTask, *, now: dt.datetime, actor: Actor = ROUTER) -> ReviewTask:
    """Assign the UNASSIGNED task (its row locked by the caller) to the eligible reviewer with
    the fewest open reviews, counted under the reviewers' locks; leave it waiting when there is
    none. The caller owns the transaction."""
    if task.status != ReviewStatus.UNASSIGNED:
        return task
    locked = [r for r in lock_reviewers(eligible_ids(task, now=now)) if r != task.author_id]
    if not locked:
        return task
    counts = open_review_counts(locked)
    chosen = min(locked, key=lambda r: (counts.get(r, 0), r))
    return transition_locked(
        task,
        to_status=ReviewStatus.ASSIGNED,
        actor=actor,
        at=now,
        note="fewest open reviews",
        reviewer_id=chosen,
        assigned_at=now,
    )


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
