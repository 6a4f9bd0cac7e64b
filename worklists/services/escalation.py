"""Escalation: as a deadline nears with nobody reading, widen who may read; let no study starve.

Run periodically (Celery beat, or in-process when embedded). Each study is escalated by a
compare-and-set update, so two schedulers running at once escalate it once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from worklists import routing
from worklists.models import PRIORITY_RANK, CoordinatorAlert, Study, StudyStatus
from worklists.services import routing as routing_service
from worklists.services.alerts import alert_raise

ESCALATION_ALERT = "routing.escalation"
_RANKS: dict[str, int] = {str(p): rank for p, rank in PRIORITY_RANK.items()}


def escalation_policy() -> routing.EscalationPolicy:
    return routing.EscalationPolicy(
        backup_at=settings.ROUTING_ESCALATE_BACKUP_AT,
        pool_at=settings.ROUTING_ESCALATE_POOL_AT,
        alert_at=settings.ROUTING_ESCALATE_ALERT_AT,
        max_wait=dt.timedelta(minutes=settings.ROUTING_MAX_WAIT_MINUTES),
    )


def tier_for(*, ready_at: dt.datetime, deadline: dt.datetime, now: dt.datetime) -> int:
    """The tier a study waiting since ``ready_at`` for ``deadline`` has reached at ``now``."""
    return routing.escalation_tier(
        ready_at=ready_at, deadline=deadline, now=now, policy=escalation_policy()
    )


def aged_rank(*, priority: str, ready_at: dt.datetime, now: dt.datetime) -> int:
    """One step up the reading order per ROUTING_MAX_WAIT_MINUTES waited; never to the top
    step, which belongs to STAT and critical findings."""
    return routing.aged_rank(
        base_rank=_RANKS.get(priority, 3), ready_at=ready_at, now=now, policy=escalation_policy()
    )


@dataclass
class EscalationReport:
    escalated: dict[int, int] = field(default_factory=dict)  # study id -> new tier
    bumped: dict[int, int] = field(default_factory=dict)  # study id -> new reading rank
    alerted: list[int] = field(default_factory=list)


def studies_escalate(*, now: dt.datetime | None = None) -> EscalationReport:
    now = now or timezone.now()
    report = EscalationReport()
    waiting = Study.objects.filter(
        status=StudyStatus.READY, ready_at__isnull=False, deadline__isnull=False
    ).values_list("id", "ready_at", "deadline", "escalation_tier", "priority", "routing_rank")
    for study_id, ready_at, deadline, tier, priority, rank in waiting.iterator():
        assert ready_at is not None
        assert deadline is not None
        target = tier_for(ready_at=ready_at, deadline=deadline, now=now)
        if target > tier and Study.objects.filter(
            id=study_id, status=StudyStatus.READY, escalation_tier=tier
        ).update(escalation_tier=target):
            report.escalated[study_id] = target
        new_rank = aged_rank(priority=priority, ready_at=ready_at, now=now)
        if new_rank < rank and Study.objects.filter(
            id=study_id, status=StudyStatus.READY, routing_rank=rank
        ).update(routing_rank=new_rank):
            report.bumped[study_id] = new_rank
    # Queued but not opened counts as nobody reading too: the coordinator hears of those.
    # Once per assignment: an alert a coordinator has resolved is not raised again every run
    # while the same reader still holds the study.
    alerted_since_assigned = CoordinatorAlert.objects.filter(
        kind=ESCALATION_ALERT, study=OuterRef("pk"), raised_at__gte=OuterRef("status_changed_at")
    )
    queued = (
        Study.objects.filter(
            status=StudyStatus.ASSIGNED, ready_at__isnull=False, deadline__isnull=False
        )
        .exclude(Exists(alerted_since_assigned))
        .values_list("id", "ready_at", "deadline")
    )
    alert_ids = [
        study_id
        for study_id, ready_at, deadline in queued.iterator()
        if ready_at is not None
        and deadline is not None
        and tier_for(ready_at=ready_at, deadline=deadline, now=now) == routing.TIER_ALERT
    ]
    alert_ids += [s for s, t in report.escalated.items() if t == routing.TIER_ALERT]
    for study_id in sorted(set(alert_ids)):
        _alert, created = alert_raise(
            kind=ESCALATION_ALERT,
            message="Deadline near and nobody is reading this study: assign a reader.",
            study_id=study_id,
            data={"tier": routing.TIER_ALERT},
            at=now,
        )
        if created:
            report.alerted.append(study_id)
    for study_id in sorted(set(report.escalated) | set(report.bumped)):
        new_tier = report.escalated.get(study_id)
        trigger = f"escalation.tier{new_tier}" if new_tier is not None else "escalation.age_bump"
        routing_service.study_route(study_id=study_id, trigger=trigger)
    return report
