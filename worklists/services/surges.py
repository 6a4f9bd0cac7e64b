"""Surge mode: a coordinator widens who may read a worklist's studies (or every worklist's) at
once, to the next escalation tier (backup readers, then every competent reader on shift), with a
reason and an end time.

Routing reads the surges running now (``surge_facts``, ``surge_tier_of_worklist``) and routes a
study at the higher of its own tier and the surge's (worklists.routing.StudyFacts.effective_tier;
the claim statement in worklists.queries says the same in SQL). Running means not ended and its
end time ahead, so a surge stops widening at its end by itself; ``surges_expire`` (periodic)
then records that end as an event, once. Every start and end is a SurgeEvent and tells every
live page after commit (worklists.live); a start pushes the waiting studies to the readers it
made eligible (their queues are filled after commit, through the usual push).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from worklists import live, routing
from worklists.access import user_is_coordinator
from worklists.actors import Actor
from worklists.errors import Conflict, InvalidInput, NotFound, NotPermitted
from worklists.models import Radiologist, Shift, Surge, SurgeEvent, Worklist
from worklists.services.pushes import fill_queue_after_commit

SURGE_EVENT = "surge.changed"  # the live event: a surge started or ended
SWEEPER = Actor.system("surges")


class NotCoordinator(NotPermitted):
    """Only coordinators start and end surges (403)."""


class SurgeRefused(InvalidInput):
    """The surge asked for breaks a rule: no reason, an end time past or too far, a worklist
    that does not exist, or nothing wider to go to."""


class SurgeNotFound(NotFound):
    """No such surge."""


class SurgeAlreadyEnded(Conflict):
    """Ended already (by another coordinator, a newer surge, or its end time)."""


class SurgeStartedMeanwhile(Conflict):
    """Another coordinator started a surge for the same worklist at the same moment."""


# --- what routing reads ------------------------------------------------------------------------


def running(now: dt.datetime) -> Q:
    """Surges widening at ``now``: not ended, end time ahead (routing.running_surge_tier)."""
    return Q(ended_at__isnull=True, ends_at__gt=now)


def surge_facts(*, now: dt.datetime) -> tuple[routing.SurgeFacts, ...]:
    """The surges running now, for worklists.routing (one query)."""
    return tuple(
        routing.SurgeFacts(worklist_id=worklist_id, tier=tier, ends_at=ends_at)
        for worklist_id, tier, ends_at in Surge.objects.filter(running(now))
        .order_by()
        .values_list("worklist_id", "tier", "ends_at")
    )


def surge_tier_of_worklist(*, now: dt.datetime, worklist: Combinable | None = None) -> Coalesce:
    """routing.running_surge_tier as an expression over a study query (``worklist``: its
    worklist id, the outer row's by default), so that a push reads it with the study."""
    of_worklist = worklist if worklist is not None else OuterRef("worklist_id")
    highest = (
        Surge.objects.filter(running(now))
        .filter(Q(worklist_id=of_worklist) | Q(worklist__isnull=True))
        .order_by("-tier")
        .values("tier")[:1]
    )
    return Coalesce(
        Subquery(highest, output_field=IntegerField()),
        Value(routing.TIER_PRIMARY),
        output_field=IntegerField(),
    )


# --- starting and ending -----------------------------------------------------------------------


def surge_require_coordinator(actor: Actor) -> None:
    if not user_is_coordinator(actor.user_id):
        raise NotCoordinator(_("Only coordinators start and end surges."))


def _record(
    surge: Surge, action: str, *, at: dt.datetime, actor: Actor | None, note: str = ""
) -> None:
    SurgeEvent.objects.create(
        surge=surge,
        action=action,
        at=at,
        actor_id=actor.user_id if actor else None,
        actor_label=actor.label if actor else "",
        note=note,
    )
    live.notify_everyone_after_commit(event=SURGE_EVENT, data={"surge_id": surge.id})


def _end(
    surge_id: int, *, reason: str, at: dt.datetime, actor: Actor | None, expired: bool = False
) -> bool:
    """End one surge not yet ended (compare-and-set) and record it; False if it was ended."""
    still_open = Surge.objects.filter(id=surge_id, ended_at__isnull=True)
    if expired:
        # marked at its end time: from then on it widened nothing
        ended = still_open.filter(ends_at__lte=at).update(ended_at=F("ends_at"), end_reason=reason)
    else:
        ended = still_open.update(
            ended_at=at, ended_by_id=actor.user_id if actor else None, end_reason=reason
        )
    if not ended:
        return False
    surge = Surge.objects.get(id=surge_id)
    _record(surge, reason, at=surge.ended_at or at, actor=actor)
    return True


def _validate(*, reason: str, ends_at: dt.datetime, now: dt.datetime) -> str:
    reason = reason.strip()
    if not reason:
        raise SurgeRefused(_("Say why: a surge needs a reason."), field="reason")
    if ends_at.tzinfo is None:
        raise SurgeRefused(_("Give the end time with its time zone."), field="ends_at")
    if ends_at <= now:
        raise SurgeRefused(_("Choose an end time in the future."), field="ends_at")
    longest = settings.CONSOLE_SURGE_MAX_HOURS
    if ends_at - now > dt.timedelta(hours=longest):
        raise SurgeRefused(
            _("A surge runs for at most %(hours)s hours.") % {"hours": longest}, field="ends_at"
        )
    return reason


def _readers_made_eligible(worklist_id: int | None, *, now: dt.datetime) -> list[int]:
    """Readers on shift now who may read the surged worklist's studies (any worklist's for a
    surge of every worklist): their queues are filled after the start commits."""
    readers = Radiologist.objects.filter(
        is_active=True,
        id__in=Shift.objects.filter(starts_at__lte=now, ends_at__gt=now).values("radiologist_id"),
    )
    if worklist_id is not None:
        readers = readers.filter(competences__worklist_id=worklist_id)
    return sorted(set(readers.values_list("id", flat=True)))


def surge_start(
    *,
    actor: Actor,
    worklist_id: int | None,
    tier: int | None,
    reason: str,
    ends_at: dt.datetime,
    now: dt.datetime | None = None,
) -> Surge:
    """Widen who may read ``worklist_id``'s studies (None: every worklist's) to ``tier``
    (routing.TIER_BACKUP or TIER_POOL; None: the next tier above the surges running for it)
    until ``ends_at``. A surge not yet ended for the same worklist is superseded by this one.

    Coordinators only (NotCoordinator before anything else is looked at). The start is an
    event; after commit every live page hears of it and the readers it made eligible get the
    waiting studies pushed to them."""
    surge_require_coordinator(actor)
    now = now or timezone.now()
    reason = _validate(reason=reason, ends_at=ends_at, now=now)
    if worklist_id is not None and not Worklist.objects.filter(id=worklist_id).exists():
        raise SurgeRefused(_("No such worklist."), field="worklist_id")
    try:
        with transaction.atomic():
            surge = _start_locked(
                actor=actor,
                worklist_id=worklist_id,
                tier=tier,
                reason=reason,
                ends_at=ends_at,
                now=now,
            )
    except IntegrityError as exc:
        raise SurgeStartedMeanwhile(
            _("Another coordinator started a surge for this worklist just now: look again.")
        ) from exc
    return surge


def _start_locked(
    *,
    actor: Actor,
    worklist_id: int | None,
    tier: int | None,
    reason: str,
    ends_at: dt.datetime,
    now: dt.datetime,
) -> Surge:
    same_scope = Surge.objects.select_for_update().filter(
        Q(worklist__isnull=True) if worklist_id is None else Q(worklist_id=worklist_id),
        ended_at__isnull=True,
    )
    previous = same_scope.first()
    if previous is not None and previous.ends_at <= now:
        _end(previous.id, reason=Surge.EndReason.EXPIRED, at=now, actor=SWEEPER, expired=True)
        previous = None
    if tier is None:
        running_now = surge_facts(now=now)
        current = (
            max((s.tier for s in running_now if s.worklist_id is None), default=0)
            if worklist_id is None
            else routing.running_surge_tier(running_now, worklist_id=worklist_id, now=now)
        )
        tier = routing.next_surge_tier(current)
        if tier is None:
            raise SurgeRefused(
                _("Already widened to every competent reader on shift."), field="tier"
            )
    if tier not in Surge.Tier.values:
        raise SurgeRefused(_("Choose backup readers or every competent reader."), field="tier")
    if previous is not None:
        _end(previous.id, reason=Surge.EndReason.SUPERSEDED, at=now, actor=actor)
    assert actor.user_id is not None  # a coordinator (surge_require_coordinator)
    surge = Surge.objects.create(
        worklist_id=worklist_id,
        tier=tier,
        reason=reason,
        started_by_id=actor.user_id,
        started_at=now,
        ends_at=ends_at,
    )
    _record(surge, SurgeEvent.Action.STARTED, at=now, actor=actor, note=reason)
    for radiologist_id in _readers_made_eligible(worklist_id, now=now):
        fill_queue_after_commit(radiologist_id, trigger="surge.started")
    return surge


def surge_end(*, actor: Actor, surge_id: int, now: dt.datetime | None = None) -> Surge:
    """End a surge early: from now on its worklist's studies are routed at their own tier.
    Coordinators only; SurgeAlreadyEnded when it has ended (or passed its end time)."""
    surge_require_coordinator(actor)
    now = now or timezone.now()
    with transaction.atomic():
        surge = Surge.objects.select_for_update().filter(id=surge_id).first()
        if surge is None:
            raise SurgeNotFound(_("No such surge."))
        if surge.ended_at is not None or surge.ends_at <= now:
            raise SurgeAlreadyEnded(_("This surge has ended already."))
        _end(surge.id, reason=Surge.EndReason.ENDED, at=now, actor=actor)
        surge.refresh_from_db()
    return surge


def surges_expire(*, now: dt.datetime | None = None) -> list[int]:
    """Record the end of every surge past its end time (periodic, idempotent): routing
    stopped widening at that time already; this makes the end an event. The ids ended now."""
    now = now or timezone.now()
    expired: list[int] = []
    due = Surge.objects.filter(ended_at__isnull=True, ends_at__lte=now).values_list("id", flat=True)
    for surge_id in list(due):
        with transaction.atomic():
            if _end(surge_id, reason=Surge.EndReason.EXPIRED, at=now, actor=SWEEPER, expired=True):
                expired.append(surge_id)
    return expired
