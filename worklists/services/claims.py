"""Pull: claiming one study, releasing it, coordinator assignment, idle expiry, activity.
"Read next" is worklists.services.read_next (its names are imported here for the callers that
take them from this module)."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from worklists import routing, routing_reasons
from worklists.access import user_is_coordinator
from worklists.actors import Actor
from worklists.errors import Conflict, ErrorKind, InvalidInput, NotPermitted, StudyNotFound
from worklists.lifecycle import IllegalTransition
from worklists.models import (
    Assignment,
    Radiologist,
    RoutingDecision,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.services import routing_decisions, routing_loads
from worklists.services.pushes import fill_queue_after_commit, route_after_commit
from worklists.services.read_next import (
    Claimed,
    ReadNextAnswer,
    reader_mark_active,
    reading_order_next,
    study_claim_next,
)
from worklists.services.studies import (
    NotEligible,
    NotTheHolder,
    ReasonRequired,
    study_assign,
    study_reassign,
    study_start_reading,
)
from worklists.services.surges import surge_facts
from worklists.services.transitions import end_active_assignment, lock_study, record_transition


class HeldByAnother(Conflict):
    """The study is in another radiologist's hands."""


class NotCoordinator(NotPermitted):
    """Only coordinators assign studies to a reader of their choice."""


class AssigneeNotEligible(NotEligible):
    """The reader a coordinator chose may not read the study: the request's choice is wrong,
    not the coordinator's role (a 400 on radiologist_id, not a 403)."""

    kind = ErrorKind.INVALID
    default_field = "radiologist_id"


def claim_touch(*, study_id: int, radiologist_id: int, at: dt.datetime | None = None) -> bool:
    """The holder is still working on the study (opened it, autosaved a draft): keep the claim.

    One compare-and-set UPDATE on the active assignment, and the reader's own activity
    (reader_mark_active); False when they no longer hold it.
    """
    at = at or timezone.now()
    reader_mark_active(radiologist_id=radiologist_id, at=at)
    return (
        Assignment.objects.filter(
            study_id=study_id, radiologist_id=radiologist_id, ended_at__isnull=True
        ).update(last_activity_at=at)
        == 1
    )


def study_open(*, study_id: int, radiologist_id: int, actor: Actor) -> bool:
    """The reader opened the study's reading page. For its holder that is activity, and a study
    still waiting in their queue (ASSIGNED) is now being read (IN_PROGRESS): it is no longer
    "pushed, not opened", and read next does not give it again. False for anyone else."""
    if not claim_touch(study_id=study_id, radiologist_id=radiologist_id):
        return False
    if Study.objects.filter(id=study_id, status=StudyStatus.ASSIGNED).exists():
        # its own transaction, the study locked and the holder checked again; a study moved on
        # or taken meanwhile is shown as it is now
        with contextlib.suppress(IllegalTransition, NotTheHolder):
            study_start_reading(study_id=study_id, radiologist_id=radiologist_id, actor=actor)
    return True


def _require_eligible(radiologist_id: int, study: Study, *, now: dt.datetime) -> int:
    """The tier the reader may read ``study`` at now (its own, or a surge's); NotEligible when
    they may not."""
    readers = routing_loads.load_readers(now=now, radiologist_ids=[radiologist_id])
    if not readers:
        raise NotEligible(_("radiologist %(id)s does not exist") % {"id": radiologist_id})
    assert study.worklist_id is not None
    facts = routing_decisions.study_facts(
        study,
        now=now,
        uncovered=routing_decisions.uncovered_site_ids(now=now),
        surge_tier=routing.running_surge_tier(
            surge_facts(now=now), worklist_id=study.worklist_id, now=now
        ),
    )
    reason = routing.exclusion_reason(
        readers[0],
        facts,
        now=now,
        policy=routing_decisions.routing_policy(),
        tier=facts.effective_tier,
        apply_cap=False,
    )
    if reason is not None:
        raise NotEligible(
            _("%(name)s may not read this study now: %(reason)s")
            % {"name": readers[0].name, "reason": reason}
        )
    return facts.effective_tier


@transaction.atomic
def study_claim(*, study_id: int, radiologist_id: int, actor: Actor) -> Assignment:
    """Claim one study. Claiming a study one already holds is a no-op; HeldByAnother when
    someone else holds it."""
    study = lock_study(study_id)
    now = timezone.now()
    active = Assignment.objects.filter(study=study, ended_at__isnull=True).first()
    if active is not None:
        if active.radiologist_id == radiologist_id:
            claim_touch(study_id=study_id, radiologist_id=radiologist_id, at=now)
            return active
        raise HeldByAnother(
            _("study %(study)s is held by another radiologist") % {"study": study_id}
        )
    if study.status != StudyStatus.READY or study.worklist_id is None:
        raise IllegalTransition(study.id, study.status, StudyStatus.ASSIGNED)
    tier = _require_eligible(radiologist_id, study, now=now)
    reader_mark_active(radiologist_id=radiologist_id, at=now)
    record_transition(
        study=study,
        to_status=StudyStatus.ASSIGNED,
        actor=actor,
        at=now,
        reason="claimed",
        data={"radiologist_id": radiologist_id, "kind": Assignment.Kind.PULL},
    )
    RoutingDecision.objects.create(
        study=study,
        decided_at=now,
        mode=RoutingDecision.Mode.CLAIM,
        trigger="claim",
        tier=tier,
        radiologist_id=radiologist_id,
        trace={"chosen": radiologist_id, "rule": "claimed by the reader"},
    )
    return Assignment.objects.create(
        study=study,
        radiologist_id=radiologist_id,
        kind=Assignment.Kind.PULL,
        assigned_at=now,
        assigned_by_id=actor.user_id,
        last_activity_at=now,
    )


def _after_leaving_hands(*, study_id: int | None, radiologist_id: int) -> None:
    """Push after a study leaves a reader's hands: route it on (if back in the pool), then
    refill the reader's queue. After commit, through Celery; unlike the other pushes not
    robust, so a broker failure is the request's error."""
    if study_id is not None:
        route_after_commit(
            study_id, trigger="study.released", exclude_radiologist_id=radiologist_id, robust=False
        )
    fill_queue_after_commit(radiologist_id, trigger="study.done", robust=False)


@transaction.atomic
def study_release(*, study_id: int, radiologist_id: int, actor: Actor, reason: str = "") -> Study:
    """The holder gives the study back to the pool; any draft stays with the study."""
    study = lock_study(study_id)
    active = Assignment.objects.filter(study=study, ended_at__isnull=True).first()
    if active is None or active.radiologist_id != radiologist_id:
        raise NotTheHolder(
            _("study %(study)s is not held by radiologist %(radiologist)s")
            % {"study": study_id, "radiologist": radiologist_id}
        )
    if study.status not in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS):
        raise IllegalTransition(study.id, study.status, StudyStatus.READY)
    now = timezone.now()
    why = reason.strip() or "released by the reader"
    record_transition(study=study, to_status=StudyStatus.READY, actor=actor, at=now, reason=why)
    end_active_assignment(study, at=now, end_reason=f"released: {why}")
    _after_leaving_hands(study_id=study.id, radiologist_id=radiologist_id)
    return study


@transaction.atomic
def study_coordinator_assign(
    *, study_id: int, radiologist_id: int | None, actor: Actor, reason: str
) -> Assignment:
    """A coordinator gives a study to a reader, or takes it from its holder and gives it to
    another: always with a reason, and the reader must hold a valid credential for the site.

    The study row is locked before deciding between assign and reassign, so a coordinator
    racing a claim leaves exactly one active assignment (whichever came second sees the first).

    A reader the routing rules exclude (not on shift, not competent...) may still be chosen: an
    override, recorded in the routing decision with the rule it overrides and the reason.

    Only a coordinator (``actor``) may: NotCoordinator otherwise, before anything is looked up
    or any input is judged. ``radiologist_id`` None: the form named no reader.
    """
    if not user_is_coordinator(actor.user_id):
        raise NotCoordinator("only coordinators assign studies")
    if radiologist_id is None:
        raise InvalidInput("choose a radiologist", field="radiologist_id")
    if not reason.strip():
        raise ReasonRequired(_("assigning a study needs a reason"))
    try:
        study = lock_study(study_id)
    except Study.DoesNotExist as exc:
        raise StudyNotFound from exc
    previous = Assignment.objects.filter(study=study, ended_at__isnull=True).first()
    if previous is not None and previous.radiologist_id == radiologist_id:
        raise IllegalTransition(study.id, study.status, StudyStatus.ASSIGNED)
    # Judged by the routing rules, as the assign chooser shows them: a reader they exclude is a
    # coordinator's override, recorded with the rule it overrides.
    verdict = routing_decisions.coordinator_verdicts(
        study, [radiologist_id], now=timezone.now()
    ).get(radiologist_id)
    overrides = verdict.reason if isinstance(verdict, routing.Exclusion) else ""
    if overrides in routing.INDEPENDENCE_EXCLUSIONS:
        # An earlier read of this reader's (or their site's) keeps them off: the reads are
        # independent, which no coordinator overrides (a consensus group's reservation they may).
        raise AssigneeNotEligible(routing_reasons.exclusion_reason_shown(overrides))
    try:
        if study.status == StudyStatus.READY:
            assignment = study_assign(
                study_id=study_id,
                radiologist_id=radiologist_id,
                actor=actor,
                kind=Assignment.Kind.MANUAL,
                reason=reason,
            )
        else:
            assignment = study_reassign(
                study_id=study_id, radiologist_id=radiologist_id, actor=actor, reason=reason
            )
    except Radiologist.DoesNotExist as exc:
        raise InvalidInput("no such radiologist", field="radiologist_id") from exc
    except NotEligible as exc:
        raise AssigneeNotEligible(str(exc)) from exc
    RoutingDecision.objects.create(
        study=study,
        decided_at=assignment.assigned_at,
        mode=RoutingDecision.Mode.MANUAL,
        trigger="coordinator",
        tier=study.escalation_tier,
        radiologist_id=radiologist_id,
        trace={
            "chosen": radiologist_id,
            "by": actor.label,
            "reason": reason,
            "previous_radiologist_id": previous.radiologist_id if previous else None,
            "override": bool(overrides),
            "overrides": overrides,
        },
    )
    if previous is not None:
        _after_leaving_hands(study_id=None, radiologist_id=previous.radiologist_id)
    return assignment


@dataclass(frozen=True, slots=True)
class Expired:
    study_id: int
    radiologist_id: int


def claims_expire(*, now: dt.datetime | None = None) -> list[Expired]:
    """Return idle claims to the pool: a claimed or opened study whose holder has shown no
    activity for ROUTING_CLAIM_IDLE_MINUTES. Each in its own short transaction, re-checked
    under the lock (a draft autosave may have touched it meanwhile). Drafts are not touched."""
    now = now or timezone.now()
    idle_since = now - dt.timedelta(minutes=settings.ROUTING_CLAIM_IDLE_MINUTES)
    stale = list(
        Assignment.objects.filter(
            ended_at__isnull=True,
            last_activity_at__lt=idle_since,
            study__status__in=(StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS),
        )
        .exclude(kind=Assignment.Kind.PUSH, study__status=StudyStatus.ASSIGNED)
        .values_list("study_id", "radiologist_id")
    )
    expired: list[Expired] = []
    for study_id, radiologist_id in stale:
        with transaction.atomic():
            study = lock_study(study_id)
            still_idle = Assignment.objects.filter(
                study=study,
                radiologist_id=radiologist_id,
                ended_at__isnull=True,
                last_activity_at__lt=idle_since,
            ).exists()
            if not still_idle or study.status not in (
                StudyStatus.ASSIGNED,
                StudyStatus.IN_PROGRESS,
            ):
                continue
            minutes = settings.ROUTING_CLAIM_IDLE_MINUTES
            why = f"claim expired: no activity for {minutes} minutes"
            record_transition(
                study=study,
                to_status=StudyStatus.READY,
                actor=Actor.system("claims"),
                at=now,
                reason=why,
                data={"radiologist_id": radiologist_id},
            )
            end_active_assignment(study, at=now, end_reason=why)
            _after_leaving_hands(study_id=study_id, radiologist_id=radiologist_id)
        expired.append(Expired(study_id=study_id, radiologist_id=radiologist_id))
    return expired


def reader_sign_in(*, user_id: int) -> None:
    """A radiologist signed in: they are at work, so they receive pushes again, and their queue
    is filled after commit if it has room (as at the start of a shift)."""
    radiologist_id = (
        Radiologist.objects.filter(user_id=user_id, is_active=True)
        .values_list("id", flat=True)
        .first()
    )
    if radiologist_id is None:
        return
    reader_mark_active(radiologist_id=radiologist_id)
    fill_queue_after_commit(radiologist_id, trigger="sign-in")


def radiologist_for_user(*, user_id: int) -> Radiologist | None:
    return Radiologist.objects.filter(user_id=user_id, is_active=True).first()


__all__ = [
    "Claimed",
    "Expired",
    "HeldByAnother",
    "ReadNextAnswer",
    "StudyEvent",
    "claim_touch",
    "claims_expire",
    "reader_mark_active",
    "reader_sign_in",
    "reading_order_next",
    "study_claim",
    "study_claim_next",
    "study_coordinator_assign",
    "study_open",
    "study_release",
]
