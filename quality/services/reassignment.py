"""A coordinator's manual reassignment of an open review to another reviewer, with a reason.

The reviewer chosen must be one routing could choose (quality.services.routing: active,
competent in the worklist, credentialed for the study's site today), never the author, never a
reader whose independent read went into a double-read final. Locks in routing's order: the
review task, then the reviewer's radiologist row; the event records the new reviewer and the
reason."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from quality.models import OPEN_REVIEW_STATUSES, ReviewStatus, ReviewTask
from quality.services.errors import (
    NotACoordinator,
    ReviewerNotEligible,
    ReviewInvalid,
    ReviewStateConflict,
)
from quality.services.events import transition_locked
from quality.services.routing import eligible_ids, lock_reviewers
from quality.services.scoring import locked_visible
from reports.models import IndependentRead
from worklists.access import is_coordinator, radiologist_of
from worklists.actors import Actor

REASON_MAX = 500


def review_reassign(
    *,
    task_id: int,
    user: AbstractBaseUser | AnonymousUser,
    reviewer_id: int,
    reason: str,
    now: dt.datetime | None = None,
) -> ReviewTask:
    """Give the open review ``task_id`` to ``reviewer_id`` (a coordinator, with a reason)."""
    if not is_coordinator(user):
        raise NotACoordinator(_("Only coordinators reassign reviews."))
    reason = reason.strip()
    if not reason:
        raise ReviewInvalid(_("Say why the review is reassigned."), field="reason")
    if len(reason) > REASON_MAX:
        raise ReviewInvalid(
            _("The reason is too long (at most %(max)d characters).") % {"max": REASON_MAX},
            field="reason",
        )
    now = now or timezone.now()
    with transaction.atomic():
        task = locked_visible(task_id, user)
        if task.status not in OPEN_REVIEW_STATUSES:
            raise ReviewStateConflict(
                _("This review is %(status)s: it cannot be reassigned.")
                % {"status": task.get_status_display().lower()}
            )
        holder = radiologist_of(user)
        if holder is not None and holder.id == task.reviewer_id:
            # Its reviewer, blind, would learn the author from which colleagues are refused.
            raise NotACoordinator(_("You hold this review: another coordinator reassigns it."))
        if task.reviewer_id == reviewer_id:
            raise ReviewStateConflict(_("This review is already assigned to this reviewer."))
        _check_eligible(task, reviewer_id=reviewer_id, now=now)
        if not lock_reviewers([reviewer_id]):
            raise ReviewerNotEligible(_("This radiologist is no longer active."))
        return transition_locked(
            task,
            to_status=ReviewStatus.ASSIGNED,
            actor=Actor.for_user(user),
            at=now,
            note=reason,
            reviewer_id=reviewer_id,
            assigned_at=now,
        )


def _check_eligible(task: ReviewTask, *, reviewer_id: int, now: dt.datetime) -> None:
    """Routing's rule, with the reason a coordinator is refused."""
    if reviewer_id == task.author_id:
        raise ReviewerNotEligible(_("The author never reviews their own report."))
    if IndependentRead.objects.filter(
        double_read__study_id=task.study_id, radiologist_id=reviewer_id
    ).exists():
        raise ReviewerNotEligible(
            _("This radiologist's read went into the final under review: they cannot review it.")
        )
    if reviewer_id not in eligible_ids(task, now=now):
        raise ReviewerNotEligible(
            _(
                "This radiologist cannot review it: reviewers are active, competent in the "
                "worklist and credentialed for the study's site today."
            )
        )
