"""Pushed studies nobody opens go back to routing.

A study pushed into a reader's queue waits there only for a while: if the reader has not opened
it within ROUTING_PUSH_UNOPENED_SHARE of its turnaround (ready to deadline), and at least
ROUTING_PUSH_UNOPENED_MIN_MINUTES, it goes back to READY and is routed again without that reader
(to another eligible reader, or it waits in the pool for read next). The return comes before the
coordinator alert point (ROUTING_ESCALATE_ALERT_AT of the turnaround) wherever the floor allows,
so a coordinator hears only of what routing could not place again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from worklists.actors import Actor
from worklists.models import Assignment, StudyStatus
from worklists.services.pushes import route_after_commit
from worklists.services.transitions import end_active_assignment, lock_study, record_transition

RETURNER = Actor.system("routing")
RETURN_TRIGGER = "push.unopened"


@dataclass(frozen=True, slots=True)
class Returned:
    study_id: int
    radiologist_id: int
    reason: str


def unopened_return_at(
    *, assigned_at: dt.datetime, ready_at: dt.datetime, deadline: dt.datetime
) -> dt.datetime:
    """When a study pushed at ``assigned_at`` and still unopened goes back to routing.

    A share of the turnaround after the push, but never past the alert point (a reader's queue
    must not hide a study until the coordinator is alarmed), and never sooner than the floor
    (a reader needs a few minutes to finish what they have open, even for a STAT)."""
    turnaround = max(deadline - ready_at, dt.timedelta(0))
    floor = dt.timedelta(minutes=settings.ROUTING_PUSH_UNOPENED_MIN_MINUTES)
    by_share = assigned_at + turnaround * settings.ROUTING_PUSH_UNOPENED_SHARE
    alert_at = ready_at + turnaround * settings.ROUTING_ESCALATE_ALERT_AT
    return max(assigned_at + floor, min(by_share, alert_at))


def pushes_return_unopened(*, now: dt.datetime | None = None) -> list[Returned]:
    """Send back every pushed study not opened in time. Each in its own short transaction,
    re-checked under the study's lock (the reader may have opened it meanwhile)."""
    now = now or timezone.now()
    waiting = Assignment.objects.filter(
        ended_at__isnull=True,
        kind=Assignment.Kind.PUSH,
        study__status=StudyStatus.ASSIGNED,
        study__ready_at__isnull=False,
        study__deadline__isnull=False,
        # the floor is the earliest any return can be due: skip the fresh pushes in the query
        assigned_at__lte=now - dt.timedelta(minutes=settings.ROUTING_PUSH_UNOPENED_MIN_MINUTES),
    ).values_list(
        "id", "study_id", "radiologist_id", "assigned_at", "study__ready_at", "study__deadline"
    )
    returned: list[Returned] = []
    for assignment_id, study_id, radiologist_id, assigned_at, ready_at, deadline in waiting:
        assert ready_at is not None
        assert deadline is not None
        if now < unopened_return_at(assigned_at=assigned_at, ready_at=ready_at, deadline=deadline):
            continue
        done = _return_one(
            assignment_id=assignment_id,
            study_id=study_id,
            radiologist_id=radiologist_id,
            assigned_at=assigned_at,
            now=now,
        )
        if done is not None:
            returned.append(done)
    return returned


@transaction.atomic
def _return_one(
    *,
    assignment_id: int,
    study_id: int,
    radiologist_id: int,
    assigned_at: dt.datetime,
    now: dt.datetime,
) -> Returned | None:
    study = lock_study(study_id)
    still_waiting = Assignment.objects.filter(
        id=assignment_id, study_id=study_id, ended_at__isnull=True
    ).exists()
    if not still_waiting or study.status != StudyStatus.ASSIGNED:
        return None
    minutes = round((now - assigned_at).total_seconds() / 60)
    why = f"pushed, not opened within {minutes} minutes: routed again"
    record_transition(
        study=study,
        to_status=StudyStatus.READY,
        actor=RETURNER,
        at=now,
        reason=why,
        data={"radiologist_id": radiologist_id, "kind": Assignment.Kind.PUSH, "returned": True},
    )
    end_active_assignment(study, at=now, end_reason=f"returned: {why}")
    # Not back to the same reader; and their queue is not refilled, since they are not reading it.
    route_after_commit(study.id, trigger=RETURN_TRIGGER, exclude_radiologist_id=radiologist_id)
    return Returned(study_id=study.id, radiologist_id=radiologist_id, reason=why)
