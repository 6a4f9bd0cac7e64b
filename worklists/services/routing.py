"""Push routing: load the facts, let worklists.routing decide, assign, and keep the trace."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from worklists import routing
from worklists.actors import Actor
from worklists.models import (
    Assignment,
    Competence,
    Credential,
    Radiologist,
    RoutingDecision,
    Shift,
    Study,
    StudyStatus,
)
from worklists.services import routing_decisions, routing_loads
from worklists.services.routing_decisions import routing_policy, study_facts, uncovered_site_ids
from worklists.services.routing_loads import load_readers, queue_work_units, readers_for
from worklists.services.surges import surge_tier_of_worklist
from worklists.services.transitions import lock_study, record_transition

ROUTER = Actor.system("routing")


def forget_coverage_cache() -> None:
    """Forget what this process derived from the configuration (coverage, readers' scopes)."""
    routing_decisions.forget()
    routing_loads.forget_worklist_readers()


def _lock_if_still_eligible(
    *, radiologist_id: int, study: Study, now: dt.datetime
) -> Radiologist | None:
    """Lock the chosen reader's row (serialising pushes to one queue), provided they are still
    active, on shift, competent in the study's worklist, credentialed for its site today and
    not idle (routing.Policy.is_idle: active since the cutoff, or on a shift begun since)."""
    assert study.worklist_id is not None
    site_day = now.astimezone(study.site.zone).date()
    idle_after = routing_policy().push_idle_after
    idle_cutoff = now - idle_after if idle_after is not None else None
    not_idle = (
        Q()
        if idle_cutoff is None
        else Q(last_active_at__gte=idle_cutoff)
        | ~Exists(
            Shift.objects.filter(
                radiologist_id=OuterRef("id"), starts_at__lt=idle_cutoff, ends_at__gt=now
            )
        )
    )
    return (
        Radiologist.objects.select_for_update(of=("self",))
        .filter(not_idle, id=radiologist_id, is_active=True)
        .filter(
            Exists(
                Shift.objects.filter(
                    radiologist_id=OuterRef("id"), starts_at__lte=now, ends_at__gt=now
                )
            ),
            Exists(
                Competence.objects.filter(
                    radiologist_id=OuterRef("id"), worklist_id=study.worklist_id
                )
            ),
            Exists(
                Credential.objects.filter(
                    Q(valid_until__isnull=True) | Q(valid_until__gte=site_day),
                    radiologist_id=OuterRef("id"),
                    site_id=study.site_id,
                    revoked_at__isnull=True,
                    valid_from__lte=site_day,
                )
            ),
        )
        .first()
    )


def study_route(
    *,
    study_id: int,
    trigger: str,
    exclude_radiologist_id: int | None = None,
    fresh: bool = False,
) -> RoutingDecision | None:
    """Push: give a READY study to the best eligible reader on shift, and store why.

    The decision is made from facts read without locks (no lock is held while ranking hundreds
    of readers); the assignment then locks the study and the chosen reader and checks again, so
    a study is assigned once, to a reader still eligible, and a queue never passes its cap.
    None: the study is not READY.
    """
    now = timezone.now()
    study = (
        Study.objects.select_related("site")
        .annotate(surge_tier=surge_tier_of_worklist(now=now))
        .filter(id=study_id)
        .first()
    )
    if study is None or study.status != StudyStatus.READY or study.worklist_id is None:
        return None
    facts = study_facts(
        study, now=now, uncovered=uncovered_site_ids(now=now), surge_tier=study.surge_tier
    )
    readers, others = readers_for(
        worklist_id=study.worklist_id,
        patient_id=study.patient_id,
        now=now,
        fresh=fresh,
    )
    policy = routing_policy()
    exclude = frozenset({exclude_radiologist_id}) if exclude_radiologist_id else frozenset()
    decision = routing.decide(facts, readers, now=now, policy=policy, exclude_ids=exclude)
    trace = decision.trace()
    # Readers not on shift, or not competent in this worklist at all, are counted, not listed.
    trace["not_considered"] = others
    trace["trigger"] = trigger
    if facts.surge_tier > facts.escalation_tier:
        trace["surge_tier"] = facts.surge_tier  # widened by a coordinator's surge
    with transaction.atomic():
        locked = lock_study(study.id)
        if locked.status != StudyStatus.READY:
            return None  # someone claimed it meanwhile: their decision stands
        chosen = decision.chosen
        if chosen is not None:
            if (
                _lock_if_still_eligible(radiologist_id=chosen.reader_id, study=locked, now=now)
                is None
            ):
                stale = True
            else:
                stale = False
                held = queue_work_units(chosen.reader_id)
                if (
                    not facts.waives_cap
                    and held > 0
                    and held + locked.work_units > policy.queue_cap_work_units
                ):
                    trace["lost_race"] = f"queue of {chosen.name} filled meanwhile"
                    chosen = None
            if stale:
                chosen = None
        else:
            stale = False
        if not stale:
            routed = RoutingDecision.objects.create(
                study=locked,
                decided_at=now,
                mode=RoutingDecision.Mode.PUSH,
                trigger=trigger,
                tier=decision.tier,
                radiologist_id=chosen.reader_id if chosen else None,
                trace=trace,
            )
            if chosen is not None:
                record_transition(
                    study=locked,
                    to_status=StudyStatus.ASSIGNED,
                    actor=ROUTER,
                    at=now,
                    reason=f"routed to {chosen.name}",
                    data={"radiologist_id": chosen.reader_id, "kind": Assignment.Kind.PUSH},
                )
                Assignment.objects.create(
                    study=locked,
                    radiologist_id=chosen.reader_id,
                    kind=Assignment.Kind.PUSH,
                    assigned_at=now,
                    reason=f"routing decision {routed.id}",
                )
    if stale:
        # The chosen reader's situation changed since their facts were read: decide afresh.
        if fresh:
            return None
        routing_loads.forget_worklist_readers(study.worklist_id)
        return study_route(
            study_id=study_id,
            trigger=trigger,
            exclude_radiologist_id=exclude_radiologist_id,
            fresh=True,
        )
    return routed


def reader_fill_queue(*, radiologist_id: int, trigger: str, limit: int | None = None) -> int:
    """Push after a reader starts a shift or finishes a study: route the first READY studies
    of their scope, in reading order, until their queue is full. Each study still goes to its
    best reader, which is usually the one with room. Returns how many they received."""
    now = timezone.now()
    readers = load_readers(now=now, radiologist_ids=[radiologist_id])
    if not readers or not readers[0].active_shifts(now):
        return 0
    reader = readers[0]
    policy = routing_policy()
    room = policy.queue_cap_work_units - reader.queue_work_units
    if room <= 0:
        return 0
    site_ids = {c.site_id for c in reader.credentials}
    scope = routing.reader_scope(
        reader,
        now=now,
        site_ids=site_ids,
        covered_site_ids=frozenset(site_ids - uncovered_site_ids(now=now)),
    )
    if scope.is_empty:
        return 0
    pairs = scope.pairs_by_tier[routing.TIER_POOL]
    candidates = (
        Study.objects.filter(
            status=StudyStatus.READY,
            worklist_id__in={w for w, _ in pairs},
            site_id__in={s for _, s in pairs},
            modality__in=scope.modalities,
        )
        .order_by("routing_rank", "deadline", "id")
        .values_list("id", flat=True)[: limit or settings.ROUTING_FILL_BATCH]
    )
    received = 0
    for study_id in list(candidates):
        decision = study_route(study_id=study_id, trigger=trigger)
        if decision is not None and decision.radiologist_id == radiologist_id:
            received += 1
            if queue_work_units(radiologist_id) >= policy.queue_cap_work_units:
                break
    return received
