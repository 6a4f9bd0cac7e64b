"""Lifecycle services: one per transition, each in one transaction, each writing a StudyEvent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from worklists import classification
from worklists.actors import Actor
from worklists.errors import Conflict, InvalidInput, NotPermitted
from worklists.lifecycle import HELD_STATUSES, IllegalTransition
from worklists.models import (
    PRIORITY_RANK,
    Assignment,
    ClassificationRule,
    DeadlineContract,
    Radiologist,
    Study,
    StudyEvent,
    StudyStatus,
    Worklist,
)
from worklists.services.pushes import refill_after_commit, route_after_commit
from worklists.services.transitions import end_active_assignment, lock_study, record_transition

_READING_RANK: dict[str, int] = {str(p): rank for p, rank in PRIORITY_RANK.items()}


class NotTheHolder(Conflict):
    """The acting radiologist does not hold the study."""


class ReasonRequired(InvalidInput, ValueError):
    default_field = "reason"


class NotEligible(NotPermitted):
    """The radiologist may not read this study (inactive, or no valid credential for its site)."""


def _require_may_read(radiologist: Radiologist, study: Study, *, at: dt.datetime) -> None:
    if not radiologist.is_active:
        raise NotEligible(
            _("%(name)s is not an active radiologist") % {"name": radiologist.display_name}
        )
    site_day = at.astimezone(study.site.zone).date()
    if not any(c.is_valid_on(site_day) for c in radiologist.credentials.filter(site=study.site_id)):
        raise NotEligible(
            _("%(name)s holds no valid credential for %(site)s")
            % {"name": radiologist.display_name, "site": study.site.code}
        )


def _require_holder(study: Study, radiologist_id: int) -> Assignment:
    assignment = Assignment.objects.filter(study=study, ended_at__isnull=True).first()
    if assignment is None or assignment.radiologist_id != radiologist_id:
        raise NotTheHolder(
            _("study %(study)s is not held by radiologist %(radiologist)s")
            % {"study": study.id, "radiologist": radiologist_id}
        )
    return assignment


def _general_worklist() -> Worklist:
    # Created by a data migration; recreated if someone removed it, so no study is left without
    # a worklist.
    worklist, _created = Worklist.objects.get_or_create(
        is_general=True, defaults={"code": "general", "name": "General", "display_order": 1000}
    )
    return worklist


def classification_rules() -> list[classification.Rule]:
    """The active classification rules, as the pure classifier takes them."""
    return [
        classification.Rule(
            id=r.id,
            position=r.position,
            worklist_id=r.worklist_id,
            work_units=r.work_units,
            site_id=r.site_id,
            modality=r.modality,
            body_part=r.body_part,
            procedure_code=r.procedure_code,
            procedure_code_prefix=r.procedure_code_prefix,
            description_pattern=r.description_pattern,
            min_age_years=r.min_age_years,
            max_age_years=r.max_age_years,
        )
        for r in ClassificationRule.objects.filter(is_active=True)
    ]


def _classify(study: Study, *, at: dt.datetime) -> dict[str, Any]:
    """Choose worklist, work units and deadline for a study becoming READY."""
    rules = classification_rules()
    local_day = at.astimezone(study.site.zone).date()
    facts = classification.StudyFacts(
        site_id=study.site_id,
        modality=study.modality,
        body_part=study.body_part,
        procedure_code=study.procedure_code,
        procedure_text=study.procedure_text,
        patient_age_years=study.patient.age_on(local_day),
    )
    rule = classification.first_matching_rule(rules, facts)
    if rule is None:
        study.worklist = _general_worklist()
        study.classification_rule = None
        study.is_unclassified = True
        study.work_units = classification.DEFAULT_WORK_UNITS
    else:
        study.worklist_id = rule.worklist_id
        study.classification_rule_id = rule.id
        study.is_unclassified = False
        study.work_units = rule.work_units
    # Reading order: by priority, and at the top while a critical AI finding stands.
    first_critical_at = (
        study.ai_findings.filter(is_critical=True)
        .order_by("reported_at")
        .values_list("reported_at", flat=True)
        .first()
        if study.pk is not None
        else None
    )
    critical = first_critical_at is not None
    study.routing_rank = 0 if critical else _READING_RANK.get(study.priority, 3)

    contract = dict(
        DeadlineContract.objects.filter(site_id=study.site_id).values_list(
            "priority", "turnaround_minutes"
        )
    )
    ready_at = study.ready_at or at
    study.deadline, source = classification.deadline_for(
        ready_at=ready_at,
        priority=study.priority,
        contract_minutes=contract,
        default_minutes=settings.DEFAULT_TURNAROUND_MINUTES,
    )
    if first_critical_at is not None:
        # A standing critical finding keeps the STAT turnaround from when it was reported.
        stat_deadline, _ = classification.deadline_for(
            ready_at=first_critical_at,
            priority="STAT",
            contract_minutes=contract,
            default_minutes=settings.DEFAULT_TURNAROUND_MINUTES,
        )
        if stat_deadline < study.deadline:
            study.deadline, source = stat_deadline, "critical_finding"
    return {
        "worklist": study.worklist.code if study.worklist else None,
        "rule_id": rule.id if rule else None,
        "unclassified": rule is None,
        "work_units": str(study.work_units),
        "deadline": study.deadline.isoformat(),
        "deadline_source": source,
    }


CLASSIFICATION_FIELDS = (
    "worklist",
    "classification_rule",
    "is_unclassified",
    "work_units",
    "deadline",
    "routing_rank",
)


def study_reclassify_locked(study: Study, *, at: dt.datetime) -> dict[str, Any]:
    """Re-run classification (order changed). The caller owns the transaction and has locked
    the study row."""
    outcome = _classify(study, at=at)
    study.save(update_fields=[*CLASSIFICATION_FIELDS, "updated_at"])
    return outcome


def study_mark_ready_locked(study: Study, *, actor: Actor, at: dt.datetime) -> StudyEvent:
    """ORDERED -> READY. The caller owns the transaction and has locked the study row."""
    # Only from ORDERED: the table also allows READY from ASSIGNED/IN_PROGRESS/ON_HOLD, but those
    # are unassign and release_hold, not "images complete" (which would reclassify and leave any
    # active assignment behind).
    if study.status != StudyStatus.ORDERED:
        raise IllegalTransition(study.id, study.status, StudyStatus.READY)
    study.images_available = True
    study.ready_at = at
    outcome = _classify(study, at=at)
    route_after_commit(study.id, trigger="study.ready")
    return record_transition(
        study=study,
        to_status=StudyStatus.READY,
        actor=actor,
        at=at,
        reason="images complete",
        data=outcome,
        extra_fields=("images_available", "ready_at", *CLASSIFICATION_FIELDS),
    )


@transaction.atomic
def study_mark_ready(*, study_id: int, actor: Actor, at: dt.datetime | None = None) -> Study:
    """Images are complete: classify into a worklist, set the deadline, and open it for reading."""
    study = lock_study(study_id)
    study_mark_ready_locked(study, actor=actor, at=at or timezone.now())
    return study


@transaction.atomic
def study_assign(
    *,
    study_id: int,
    radiologist_id: int,
    actor: Actor,
    kind: str = Assignment.Kind.PUSH,
    reason: str = "",
) -> Assignment:
    """READY -> ASSIGNED: the study enters one radiologist's queue."""
    study = lock_study(study_id)
    if study.status != StudyStatus.READY:
        # ASSIGNED/IN_PROGRESS -> ASSIGNED is a reassignment (study_reassign), not an assignment.
        raise IllegalTransition(study.id, study.status, StudyStatus.ASSIGNED)
    radiologist = Radiologist.objects.select_related("user").get(id=radiologist_id)
    now = timezone.now()
    _require_may_read(radiologist, study, at=now)
    record_transition(
        study=study,
        to_status=StudyStatus.ASSIGNED,
        actor=actor,
        at=now,
        reason=reason or f"assigned to {radiologist.display_name}",
        data={"radiologist_id": radiologist_id, "kind": kind},
    )
    return Assignment.objects.create(
        study=study,
        radiologist=radiologist,
        kind=kind,
        assigned_at=now,
        assigned_by_id=actor.user_id,
        reason=reason,
    )


@transaction.atomic
def study_reassign(*, study_id: int, radiologist_id: int, actor: Actor, reason: str) -> Assignment:
    """ASSIGNED/IN_PROGRESS -> ASSIGNED to another reader, by a coordinator, with a reason."""
    if not reason.strip():
        raise ReasonRequired(_("a reassignment needs a reason"))
    study = lock_study(study_id)
    if study.status not in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS):
        # A READY study is assigned (study_assign), not reassigned.
        raise IllegalTransition(study.id, study.status, StudyStatus.ASSIGNED)
    radiologist = Radiologist.objects.select_related("user").get(id=radiologist_id)
    now = timezone.now()
    _require_may_read(radiologist, study, at=now)
    previous = Assignment.objects.filter(study=study, ended_at__isnull=True).first()
    record_transition(
        study=study,
        to_status=StudyStatus.ASSIGNED,
        actor=actor,
        at=now,
        reason=reason,
        data={
            "radiologist_id": radiologist_id,
            "previous_radiologist_id": previous.radiologist_id if previous else None,
            "kind": Assignment.Kind.MANUAL,
        },
    )
    end_active_assignment(study, at=now, end_reason=f"reassigned: {reason}")
    return Assignment.objects.create(
        study=study,
        radiologist=radiologist,
        kind=Assignment.Kind.MANUAL,
        assigned_at=now,
        assigned_by_id=actor.user_id,
        reason=reason,
    )


@transaction.atomic
def study_unassign(*, study_id: int, actor: Actor, reason: str) -> Study:
    """ASSIGNED/IN_PROGRESS -> READY: the study goes back to the pool; any draft stays."""
    study = lock_study(study_id)
    if study.status not in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS):
        # ORDERED/ON_HOLD -> READY must go through mark_ready/release_hold (classification).
        raise IllegalTransition(study.id, study.status, StudyStatus.READY)
    now = timezone.now()
    record_transition(study=study, to_status=StudyStatus.READY, actor=actor, at=now, reason=reason)
    previous = end_active_assignment(study, at=now, end_reason=reason or "returned to pool")
    route_after_commit(
        study.id,
        trigger="study.unassigned",
        exclude_radiologist_id=previous.radiologist_id if previous else None,
    )
    refill_after_commit(previous, trigger="study.unassigned")
    return study


@transaction.atomic
def study_start_reading(*, study_id: int, radiologist_id: int, actor: Actor) -> Study:
    """ASSIGNED -> IN_PROGRESS: the holder opens the study."""
    study = lock_study(study_id)
    if study.status != StudyStatus.ASSIGNED:
        raise IllegalTransition(study.id, study.status, StudyStatus.IN_PROGRESS)
    holder = _require_holder(study, radiologist_id)
    now = timezone.now()
    record_transition(study=study, to_status=StudyStatus.IN_PROGRESS, actor=actor, at=now)
    # Opening counts as activity: the idle clock of the claim starts now.
    holder.last_activity_at = now
    holder.save(update_fields=["last_activity_at"])
    return study


@transaction.atomic
def study_issue_preliminary(*, study_id: int, radiologist_id: int, actor: Actor) -> Study:
    """IN_PROGRESS -> PRELIMINARY: a wet read has been issued by the holder."""
    study = lock_study(study_id)
    if study.status != StudyStatus.IN_PROGRESS:
        raise IllegalTransition(study.id, study.status, StudyStatus.PRELIMINARY)
    _require_holder(study, radiologist_id)
    record_transition(
        study=study, to_status=StudyStatus.PRELIMINARY, actor=actor, at=timezone.now()
    )
    return study


@transaction.atomic
def study_finalize(*, study_id: int, radiologist_id: int, actor: Actor) -> Study:
    """IN_PROGRESS/PRELIMINARY -> FINAL: the holder has signed; the assignment is complete."""
    study = lock_study(study_id)
    if study.status not in (StudyStatus.IN_PROGRESS, StudyStatus.PRELIMINARY):
        raise IllegalTransition(study.id, study.status, StudyStatus.FINAL)
    _require_holder(study, radiologist_id)
    now = timezone.now()
    record_transition(study=study, to_status=StudyStatus.FINAL, actor=actor, at=now)
    ended = end_active_assignment(study, at=now, end_reason="signed")
    refill_after_commit(ended, trigger="study.finalized")
    return study


def study_cancel_locked(study: Study, *, actor: Actor, reason: str, at: dt.datetime) -> None:
    """-> CANCELLED. The caller owns the transaction and has locked the study row."""
    record_transition(
        study=study, to_status=StudyStatus.CANCELLED, actor=actor, at=at, reason=reason
    )
    end_active_assignment(study, at=at, end_reason="order cancelled")


@transaction.atomic
def study_cancel(*, study_id: int, actor: Actor, reason: str = "") -> Study:
    """-> CANCELLED: the site cancelled the order."""
    study = lock_study(study_id)
    study_cancel_locked(study, actor=actor, reason=reason or "order cancelled", at=timezone.now())
    return study


@transaction.atomic
def study_reject(*, study_id: int, actor: Actor, reason: str) -> Study:
    """-> REJECTED: the referral is returned to the site with a reason."""
    if not reason.strip():
        raise ReasonRequired("a rejection needs a reason")
    study = lock_study(study_id)
    now = timezone.now()
    record_transition(
        study=study, to_status=StudyStatus.REJECTED, actor=actor, at=now, reason=reason
    )
    ended = end_active_assignment(study, at=now, end_reason="referral rejected")
    refill_after_commit(ended, trigger="study.rejected")
    return study


@transaction.atomic
def study_hold(*, study_id: int, actor: Actor, reason: str) -> Study:
    """-> ON_HOLD: set aside (e.g. patient identity to resolve); whoever held it lets go."""
    if not reason.strip():
        raise ReasonRequired("putting a study on hold needs a reason")
    study = lock_study(study_id)
    now = timezone.now()
    was_held = study.status in HELD_STATUSES
    record_transition(
        study=study, to_status=StudyStatus.ON_HOLD, actor=actor, at=now, reason=reason
    )
    if was_held:
        end_active_assignment(study, at=now, end_reason="put on hold")
    return study


@transaction.atomic
def study_release_hold(*, study_id: int, actor: Actor, reason: str = "") -> Study:
    """ON_HOLD -> READY (images were complete) or ORDERED (still waiting for images)."""
    study = lock_study(study_id)
    now = timezone.now()
    if study.status != StudyStatus.ON_HOLD:
        raise IllegalTransition(study.id, study.status, StudyStatus.READY)
    if study.ready_at is not None:
        record_transition(
            study=study, to_status=StudyStatus.READY, actor=actor, at=now, reason=reason
        )
        route_after_commit(study.id, trigger="study.hold_released")
        return study
    record_transition(
        study=study, to_status=StudyStatus.ORDERED, actor=actor, at=now, reason=reason
    )
    if study.images_available:
        # Held before it ever became ready, and the images are in: open it for reading now.
        study_mark_ready_locked(study, actor=actor, at=now)
    return study
