"""The reviewer's score, and a coordinator's withdrawal of a review.

The score is a level of the review's scale (data: RADPEER or a local scale). A significant
level (RADPEER 2b or 3b) tells the coordinators (a CoordinatorAlert on the
study, the console's list) and the author (their worklist page lists it, with the way to an
addendum through the reading page's existing addendum flow); live pages hear of it after
commit. A review never goes to the RIS: nothing here writes to the report's outbox.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from quality.models import ReviewScaleLevel, ReviewStatus, ReviewTask
from quality.scales import levels_of
from quality.services.errors import (
    NotACoordinator,
    NotTheReviewer,
    ReviewInvalid,
    ReviewNotFound,
    ReviewStateConflict,
)
from quality.services.events import transition_locked
from worklists import live
from worklists.access import is_coordinator, radiologist_of, studies_visible_to
from worklists.actors import Actor
from worklists.services.alerts import alert_raise

DISCREPANCY_ALERT = "quality.discrepancy"
SCORED_EVENT = "review.scored"  # the live event: a review of the study was scored
COMMENT_MAX = 4000


def locked_visible(task_id: int, user: AbstractBaseUser | AnonymousUser) -> ReviewTask:
    """The task, its row locked, if its study is one ``user`` may see (the scoping function);
    otherwise ReviewNotFound, whether or not it exists."""
    task = (
        ReviewTask.objects.select_for_update(of=("self",))
        .select_related("study")
        .filter(pk=task_id, study__in=studies_visible_to(user))
        .first()
    )
    if task is None:
        raise ReviewNotFound(_("No such review."))
    return task


def review_score(
    *,
    task_id: int,
    user: AbstractBaseUser | AnonymousUser,
    score: str,
    comment: str,
    now: dt.datetime | None = None,
) -> ReviewTask:
    """Score the review assigned to ``user`` on a level of the review's scale. A level that
    needs one (a discrepancy) needs a comment: the author learns from it; a significant level
    alerts the coordinators."""
    comment = comment.strip().replace("\r\n", "\n")
    if len(comment) > COMMENT_MAX:
        raise ReviewInvalid(
            _("The comment is too long (at most %(max)d characters).") % {"max": COMMENT_MAX},
            field="comment",
        )
    radiologist = radiologist_of(user)
    now = now or timezone.now()
    with transaction.atomic():
        task = locked_visible(task_id, user)
        if radiologist is None or task.reviewer_id != radiologist.id:
            raise NotTheReviewer(_("This review is assigned to another radiologist."))
        if task.status != ReviewStatus.ASSIGNED:
            raise ReviewStateConflict(
                _("This review is %(status)s: it cannot be scored.")
                % {"status": task.get_status_display().lower()}
            )
        levels = levels_of(task.scale_id)
        level = next((lv for lv in levels if lv.code == score), None)
        if level is None:
            raise ReviewInvalid(
                _("Choose a score on the review's scale: %(scores)s.")
                % {"scores": ", ".join(lv.code for lv in levels)},
                field="score",
            )
        if level.needs_comment and not comment:
            raise ReviewInvalid(
                _("Say what the discrepancy is: a comment is needed."), field="comment"
            )
        transition_locked(
            task,
            to_status=ReviewStatus.SCORED,
            actor=Actor.for_user(user),
            at=now,
            note=f"score {score}",
            scale_id=level.scale_id,
            level=level,
            score=level.code,
            comment=comment,
            reviewed_at=now,
        )
        if level.significant:
            _discrepancy_raise(task, level=level, now=now)
        live.broadcast_after_commit(
            study_id=task.study_id, site_id=task.study.site_id, event=SCORED_EVENT
        )
    return task


def _discrepancy_raise(task: ReviewTask, *, level: ReviewScaleLevel, now: dt.datetime) -> None:
    # Stored text, as every alert message: written once in English, shown as written.
    alert_raise(
        kind=DISCREPANCY_ALERT,
        message=(
            f"Peer review scored {level.scale.name} {level.code}: a significant discrepancy in "
            f"the signed report of {task.study.accession_number}. The author is told and may "
            "add an addendum."
        ),
        study_id=task.study_id,
        site_id=task.study.site_id,
        data={
            "review_id": task.id,
            "score": task.score,
            "scale": level.scale.code,
            "author_id": task.author_id,
        },
        at=now,
    )


def review_cancel(
    *,
    task_id: int,
    user: AbstractBaseUser | AnonymousUser,
    reason: str,
    now: dt.datetime | None = None,
) -> ReviewTask:
    """A coordinator withdraws an open review (the report was re-read, the reviewer left...)."""
    if not is_coordinator(user):
        raise NotACoordinator(_("Only coordinators withdraw reviews."))
    if not reason.strip():
        raise ReviewInvalid(_("Say why the review is withdrawn."), field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        task = locked_visible(task_id, user)
        if task.status not in (ReviewStatus.UNASSIGNED, ReviewStatus.ASSIGNED):
            raise ReviewStateConflict(
                _("This review is %(status)s: it cannot be withdrawn.")
                % {"status": task.get_status_display().lower()}
            )
        return transition_locked(
            task,
            to_status=ReviewStatus.CANCELLED,
            actor=Actor.for_user(user),
            at=now,
            note=reason.strip()[:500],
        )
