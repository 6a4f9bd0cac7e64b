"""AI findings: a critical finding puts a study at the top of the reading order and re-routes it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from worklists import live
from worklists.actors import Actor
from worklists.errors import Conflict
from worklists.models import AiFinding, DeadlineContract, StudyStatus
from worklists.services.pushes import route_after_commit
from worklists.services.transitions import end_active_assignment, lock_study, record_transition


@dataclass(frozen=True, slots=True)
class FindingInput:
    code: str
    description: str
    confidence: Decimal
    source: str
    reported_at: dt.datetime
    external_id: str = ""


class AiFindingConflict(Conflict):
    """The source's finding id was already reported for another study."""


def _is_critical(finding: FindingInput) -> bool:
    codes = {c.upper() for c in settings.ROUTING_AI_CRITICAL_CODES}
    minimum = Decimal(str(settings.ROUTING_AI_MIN_CONFIDENCE))
    return finding.code.upper() in codes and finding.confidence >= minimum


def _same_finding(study_id: int, finding: FindingInput) -> AiFinding | None:
    """The finding already stored under this source and id, if it is this study's; one stored
    for another study is a conflict, never shown to the caller (it may be another site's)."""
    existing = AiFinding.objects.filter(
        source=finding.source, external_id=finding.external_id
    ).first()
    if existing is not None and existing.study_id != study_id:
        raise AiFindingConflict(
            f"finding {finding.external_id!r} from {finding.source!r} was already reported "
            "for another study"
        )
    return existing


@transaction.atomic
def ai_finding_report(
    *, study_id: int, finding: FindingInput, actor: Actor
) -> tuple[AiFinding, bool]:
    """Store a finding; a critical one re-prioritises the study at once: top of the reading
    order, a deadline no later than the STAT turnaround from now, and a new routing decision
    (a queued study not yet opened goes back through routing). A finding reported twice (same
    source and external id) is stored once. Returns the finding and whether it is new."""
    study = lock_study(study_id)
    if finding.external_id:
        existing = _same_finding(study_id, finding)
        if existing is not None:
            return existing, False
    now = timezone.now()
    critical = _is_critical(finding)
    try:
        with transaction.atomic():
            stored = AiFinding.objects.create(
                study=study,
                code=finding.code,
                description=finding.description,
                confidence=finding.confidence,
                is_critical=critical,
                source=finding.source,
                external_id=finding.external_id,
                reported_at=finding.reported_at,
            )
    except IntegrityError:
        # The same source and id stored meanwhile for another study (ours holds its lock).
        existing = _same_finding(study_id, finding)
        if existing is None:
            raise
        return existing, False
    if not critical or study.status not in (
        StudyStatus.ORDERED,
        StudyStatus.READY,
        StudyStatus.ASSIGNED,
        StudyStatus.IN_PROGRESS,
    ):
        return stored, True
    stat_minutes = (
        DeadlineContract.objects.filter(site_id=study.site_id, priority="STAT")
        .values_list("turnaround_minutes", flat=True)
        .first()
    ) or settings.DEFAULT_TURNAROUND_MINUTES["STAT"]
    stat_deadline = now + dt.timedelta(minutes=stat_minutes)
    study.routing_rank = 0
    if study.deadline is None or study.deadline > stat_deadline:
        study.deadline = stat_deadline
    study.save(update_fields=["routing_rank", "deadline", "updated_at"])
    reason = f"AI finding {finding.code} ({finding.confidence}) from {finding.source}"
    if study.status == StudyStatus.ASSIGNED:
        # Waiting in someone's queue: decide again now, the holder competing with the rest.
        record_transition(
            study=study, to_status=StudyStatus.READY, actor=actor, at=now, reason=reason
        )
        end_active_assignment(study, at=now, end_reason=f"re-routed: {reason}")
    if study.status == StudyStatus.READY:
        route_after_commit(study.id, trigger="ai_finding")
    live.broadcast_after_commit(
        study_id=study.id, site_id=study.site_id, event="study.priority", status=study.status
    )
    return stored, True
