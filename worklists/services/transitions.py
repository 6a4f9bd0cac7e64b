"""The steps every transition service shares: lock the study, record the transition and its
event, end the active assignment.

Public, because the services of several modules (studies, claims, routing, unopened pushes,
AI findings) build their transitions from them; each caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from worklists import live
from worklists.actors import Actor
from worklists.lifecycle import IllegalTransition, is_allowed
from worklists.models import Assignment, Study, StudyEvent

__all__ = ["end_active_assignment", "lock_study", "record_event", "record_transition"]


def lock_study(study_id: int) -> Study:
    """Lock one study row for a read-decide-write (inside the caller's transaction)."""
    # of=("self",): lock the study row only, not the site joined in for its time zone.
    return Study.objects.select_for_update(of=("self",)).select_related("site").get(id=study_id)


def record_transition(
    *,
    study: Study,
    to_status: str,
    actor: Actor,
    at: dt.datetime,
    reason: str = "",
    data: dict[str, Any] | None = None,
    extra_fields: tuple[str, ...] = (),
) -> StudyEvent:
    """Apply one allowed transition to a locked study and write its event."""
    from_status = study.status
    if not is_allowed(from_status, to_status):
        raise IllegalTransition(study.id, from_status, to_status)
    study.status = to_status
    study.status_changed_at = at
    study.save(update_fields=["status", "status_changed_at", "updated_at", *extra_fields])
    event = StudyEvent.objects.create(
        study=study,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=at,
        reason=reason,
        data=data or {},
    )
    live.broadcast_after_commit(
        study_id=study.id, site_id=study.site_id, event="study.status", status=to_status
    )
    return event


def record_event(
    *, study: Study, actor: Actor, at: dt.datetime, reason: str, data: dict[str, Any]
) -> StudyEvent:
    """An event of a study that keeps its status (an order's update, a flag): the history
    says what happened though the lifecycle did not move."""
    return StudyEvent.objects.create(
        study=study,
        from_status=study.status,
        to_status=study.status,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=at,
        reason=reason,
        data=data,
    )


def end_active_assignment(study: Study, *, at: dt.datetime, end_reason: str) -> Assignment | None:
    """End the study's open assignment, if any (the study is locked by the caller)."""
    assignment = Assignment.objects.filter(study=study, ended_at__isnull=True).first()
    if assignment is not None:
        assignment.ended_at = at
        assignment.end_reason = end_reason[:200]
        assignment.save(update_fields=["ended_at", "end_reason"])
    return assignment
