"""One review task's change of state and its event row, in the caller's transaction, and the
live pages told of it after commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from quality import transitions
from quality.models import OPEN_REVIEW_STATUSES, ReviewEvent, ReviewStatus, ReviewTask
from quality.services.overdue import overdue_alert_close
from worklists import live
from worklists.actors import Actor

# The live event of a review's other changes (assigned, unassigned, withdrawn): the review is in
# its reviewer's reading order, and their worklist page refetches the study's row, which holds
# the review's while it is theirs (worklists.views.worklist_row). Scoring sends its own.
CHANGED_EVENT = "review.changed"


def transition_locked(
    task: ReviewTask,
    *,
    to_status: str,
    actor: Actor,
    at: dt.datetime,
    note: str = "",
    **changes: Any,
) -> ReviewTask:
    """Move the task (its row locked by the caller) to ``to_status`` as the table allows, with
    the other ``changes``, and record the event. The caller owns the transaction."""
    from_status = task.status
    from_reviewer = task.reviewer_id
    transitions.check(from_status, to_status)
    task.status = to_status
    for field, value in changes.items():
        setattr(task, field, value)
    task.save(update_fields=["status", *changes])
    event_record(task, from_status=from_status, actor=actor, at=at, note=note)
    if to_status not in OPEN_REVIEW_STATUSES:
        overdue_alert_close(task, actor=actor)
    elif task.reviewer_id != from_reviewer and task.overdue_alerted_at is not None:
        # Someone else holds it now: the alert about the last holder is done with, and the
        # sweep tells the coordinators again if the review is still late.
        overdue_alert_close(task, actor=actor)
        task.overdue_alerted_at = None
        task.save(update_fields=["overdue_alerted_at"])
    if to_status != ReviewStatus.SCORED:  # quality.services.scoring sends SCORED_EVENT
        live.broadcast_after_commit(
            study_id=task.study_id, site_id=task.study.site_id, event=CHANGED_EVENT
        )
    return task


def event_record(
    task: ReviewTask, *, from_status: str, actor: Actor, at: dt.datetime, note: str = ""
) -> ReviewEvent:
    return ReviewEvent.objects.create(
        task=task,
        at=at,
        from_status=from_status,
        to_status=task.status,
        reviewer_id=task.reviewer_id,
        actor_id=actor.user_id,
        actor_label=actor.label,
        note=note,
    )
