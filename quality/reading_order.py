"""Peer review in the reader's reading order (issue 18): a review assigned to a reader is one of
their tasks (worklists.hooks.register_reading_order_tasks), listed in their queue on the
worklist page in its place (worklists.routing: as a routine study, with the review's own
deadline), given by "read next" when it comes first, and opened on the reading page
(reports.hooks.register_reading_task) with the report under review read-only in place of the
editor and the score form beside it; blind while the policy says so. Registered in
QualityConfig.ready."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from quality import selectors
from quality.models import ReviewEvent, ReviewStatus, ReviewTask
from quality.scales import levels_of
from reports.hooks import ReadingTaskView
from worklists.hooks import ReadingOrderTask
from worklists.models import Study

KIND = "peer-review"  # the task's kind, in its URL and on its queue row


def review_reading_url(*, study_id: int, review_id: int) -> str:
    """Where a review opens: the reading page of its study, for the review."""
    return reverse(
        "reading-task", kwargs={"study_id": study_id, "kind": KIND, "task_id": review_id}
    )


def reviews_in_reading_order(
    *,
    user: AbstractBaseUser | AnonymousUser,
    radiologist_id: int,
    site_ids: set[int] | None,
    limit: int | None,
) -> list[ReadingOrderTask]:
    """The reader's assigned reviews of studies at ``site_ids`` (the scoping function's
    answer), nearest deadline first: one query, with what the queue row shows."""
    tasks = (
        ReviewTask.objects.filter(reviewer_id=radiologist_id, status=ReviewStatus.ASSIGNED)
        .select_related("study__site", "study__patient", "study__worklist")
        .order_by("deadline", "id")
    )
    if site_ids is not None:
        tasks = tasks.filter(study__site_id__in=site_ids)
    if limit is not None:
        tasks = tasks[:limit]
    label = _("Peer review")
    return [
        ReadingOrderTask(
            kind=KIND,
            id=task.id,
            label=label,
            deadline=task.deadline,
            url=review_reading_url(study_id=task.study_id, review_id=task.id),
            study=task.study,
        )
        for task in tasks
    ]


def reviews_changed(*, visible: QuerySet[Study], after: dt.datetime, limit: int) -> set[int]:
    """The studies among ``visible`` whose review changed since ``after`` (assigned, unassigned,
    scored, withdrawn): their row in a reviewer's queue appears or goes, so a page that was
    offline meanwhile refetches it (worklists.hooks.register_changed_studies)."""
    return set(
        ReviewEvent.objects.filter(at__gte=after, task__study_id__in=visible.values("id"))
        .order_by()
        .values_list("task__study_id", flat=True)
        .distinct()[: limit + 1]
    )


def review_on_reading_page(
    *, request: HttpRequest, study: Study, task_id: int, error: str
) -> ReadingTaskView | None:
    """The review as the reading page shows it to the requesting user: reviewers see theirs, a
    coordinator any in scope (as /reviews/ did); the author blinded as the policy says
    (quality.selectors.author_shown_to), and then the double reading's section left out."""
    viewer = selectors.viewer_of(request.user)
    task = selectors.review_get(viewer=viewer, task_id=task_id)
    if task is None or task.study_id != study.id:
        return None
    author = selectors.author_shown_to(task, viewer)
    levels = levels_of(task.scale_id)
    panel = render_to_string(
        "quality/_review_panel.html",
        {
            "task": task,
            "author": author,
            "sections": selectors.report_sections_shown(task, viewer),
            "may_score": task.status == ReviewStatus.ASSIGNED
            and viewer.radiologist_id is not None
            and viewer.radiologist_id == task.reviewer_id,
            "scores": [(level.code, level.shown_label) for level in levels],
            "significant_codes": ", ".join(level.code for level in levels if level.significant),
            "posted_score": request.POST.get("score", ""),
            "posted_comment": request.POST.get("comment", ""),
            "error": error,
            "reassign": selectors.reassign_control(task, viewer, now=timezone.now()),
        },
        request=request,
    )
    return ReadingTaskView(
        label=_("Peer review"), deadline=task.deadline, panel=panel, blind=author is None
    )
