"""One review task's change of state and its event row, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from quality import transitions
from quality.models import ReviewEvent, ReviewTask
from worklists.actors import Actor


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
    transitions.check(from_status, to_status)
    task.status = to_status
    for field, value in changes.items():
        setattr(task, field, value)
    task.save(update_fields=["status", *changes])
    event_record(task, from_status=from_status, actor=actor, at=at, note=note)
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
