"""Read next: the first study in reading order among the reader's own queue and the free
studies they may take.

"Read next" follows one reading order for everything the reader may read: the first study in
reading order among their own queue (pushed or given to them, not yet opened) and the free
studies they may take (worklists.routing.read_next), unless one of the reader's tasks (a peer
review, through worklists.hooks.register_reading_order_tasks) comes first: a task ranks as a
routine study with its own deadline, and on a tie the study comes first (the rule is
worklists.routing's, TASK_ROUTING_RANK and comes_before_task). reading_order_next asks for the
reader's first task (one query) and claims only a study before it, else opens the task.

On PostgreSQL the claim is one statement (worklists.queries): it finds the first queued study
(before the task, if any), claims a free study only if it comes strictly before that one (``FOR
UPDATE SKIP LOCKED``, with the same patient's other unread studies), writes their assignments
and events, and otherwise records the queue's study as the decision. A claim's decision is
stored once, in its event; a pick from the queue as a routing decision; both are listed by
selectors.routing_decisions. Eligibility is the reader's pull scope, built by worklists.routing
and cached for a short while; the statement decides nothing once the reader's facts have
changed since (see the note above the statement), so a revoked credential or an ended shift
counts at once. SQLite serialises writers, so there the same rules run through
worklists.routing on every claim.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from worklists import hooks, live, queries, routing
from worklists.actors import Actor
from worklists.models import (
    Assignment,
    Radiologist,
    RoutingDecision,
    SiteMembership,
    Study,
    StudyStatus,
)
from worklists.queries import QUEUE_TRIGGER, READ_NEXT_RULE
from worklists.services import routing_decisions
from worklists.services.surges import surge_tier_of_worklist
from worklists.services.transitions import lock_study, record_transition


def reader_mark_active(*, radiologist_id: int, at: dt.datetime | None = None) -> bool:
    """The reader showed a sign of work: they receive pushes again if they were idle.

    Compare-and-set, written at most once per ACTIVITY_GRANULARITY so that a reader's
    autosaves do not all rewrite their row. True when the row was written."""
    at = at or timezone.now()
    return (
        Radiologist.objects.filter(
            Q(last_active_at__isnull=True) | Q(last_active_at__lt=at - ACTIVITY_GRANULARITY),
            id=radiologist_id,
        ).update(last_active_at=at)
        == 1
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    """What "read next" gave the reader: the study to read first, then its bundled
    same-patient studies; ``from_queue`` when it was already theirs (pushed or assigned to
    them, not yet opened) rather than claimed from the pool."""

    study_ids: list[int]
    from_queue: bool = False

    @property
    def study_id(self) -> int:
        return self.study_ids[0]


# Activity is written at most this often per reader: enough for "idle for N minutes", and a busy
# reader's autosaves do not all rewrite their row.
ACTIVITY_GRANULARITY = dt.timedelta(seconds=60)


def read_next_decision(*, radiologist_id: int, tier: int, bundled: bool) -> dict[str, Any]:
    """The data of a "read next" claim's event, which is also its routing decision (the
    statement builds the same object); ``decision`` tells it from other claims' events."""
    return {
        "decision": RoutingDecision.READ_NEXT,
        "radiologist_id": radiologist_id,
        "kind": Assignment.Kind.PULL,
        "tier": tier,
        "bundled": bundled,
        "rule": READ_NEXT_RULE,
    }


def _broadcast_claimed(rows: Sequence[tuple[int, int]]) -> None:
    """Tell the sockets watching each claimed study's site, once the claim has committed
    (batched: at hundreds of claims a second a task each would cost as much as the claim)."""
    live.broadcast_many_after_commit(
        studies=rows, event="study.status", status=StudyStatus.ASSIGNED
    )


def _claim_next_postgresql(
    *, radiologist_id: int, actor: Actor, now: dt.datetime, before: routing.TaskBound | None
) -> Claimed | None:
    pull = routing_decisions.reader_pull_scope(radiologist_id=radiologist_id, now=now)
    rows: list[tuple[int, int, int]] = []
    for attempt in ("cached", "fresh"):
        if attempt == "fresh":
            if not pull.cached:
                break
            # Nothing with the cached scope: the reader's facts may have changed.
            pull = routing_decisions.reader_pull_scope(
                radiologist_id=radiologist_id, now=now, fresh=True
            )
        params: dict[str, Any] = {
            "rid": radiologist_id,
            "now": now,
            "active_before": now - ACTIVITY_GRANULARITY,
            "uid": actor.user_id,
            "label": actor.label,
            "facts_version": pull.facts_version,
            # an empty scope still answers from the reader's own queue, without walking the pool
            "any_scope": not pull.scope.is_empty,
            "task_rank": queries.NO_TASK_RANK if before is None else before.routing_rank,
            "task_deadline": now if before is None else before.deadline,
            **queries.scope_arrays(pull.scope),
        }
        rows = queries.claim_next(params)
        stale = any(row[2] == queries.STALE_FACTS for row in rows)
        rows = [row for row in rows if row[2] != queries.STALE_FACTS]
        if rows or (before is not None and not stale):
            # Nothing before the reader's first task, on facts still current: the task is the
            # answer, as a study found with the cached scope is (no rebuild for it).
            break
    if not rows:
        return None
    if rows[0][2] < 0:
        return Claimed(study_ids=[rows[0][0]], from_queue=True)
    _broadcast_claimed([(row[0], row[1]) for row in rows])
    return Claimed(study_ids=[row[0] for row in rows])


def _queue_facts(*, radiologist_id: int, now: dt.datetime) -> list[routing.StudyFacts]:
    """The reader's own queue: studies given to them (pushed, assigned, bundled) not yet opened."""
    uncovered = routing_decisions.uncovered_site_ids(now=now)
    return [
        routing_decisions.study_facts(s, now=now, uncovered=uncovered, surge_tier=s.surge_tier)
        for s in Study.objects.annotate(surge_tier=surge_tier_of_worklist(now=now)).filter(
            status=StudyStatus.ASSIGNED,
            worklist__isnull=False,
            assignments__radiologist_id=radiologist_id,
            assignments__ended_at__isnull=True,
        )
    ]


def _claim_next_python(
    *, radiologist_id: int, actor: Actor, now: dt.datetime, before: routing.TaskBound | None
) -> Claimed | None:
    reader_mark_active(radiologist_id=radiologist_id, at=now)
    scope = routing_decisions.reader_pull_scope(
        radiologist_id=radiologist_id, now=now, fresh=True
    ).scope
    free: list[routing.StudyFacts] = []
    if not scope.is_empty:
        uncovered = routing_decisions.uncovered_site_ids(now=now)
        pairs = scope.pairs_by_tier[routing.TIER_POOL]
        free = [
            routing_decisions.study_facts(s, now=now, uncovered=uncovered, surge_tier=s.surge_tier)
            for s in Study.objects.annotate(surge_tier=surge_tier_of_worklist(now=now)).filter(
                status=StudyStatus.READY,
                worklist_id__in={w for w, _ in pairs},
                site_id__in={s for _, s in pairs},
                modality__in=scope.modalities,
            )
        ]
    member_site_ids: frozenset[int] = frozenset()
    if any(f.excluded_site_ids for f in free):
        member_site_ids = frozenset(
            SiteMembership.objects.filter(user__radiologist__id=radiologist_id).values_list(
                "site_id", flat=True
            )
        )
    choice = routing.read_next(
        free,
        held=_queue_facts(radiologist_id=radiologist_id, now=now),
        scope=scope,
        reader_id=radiologist_id,
        member_site_ids=member_site_ids,
        before=before,
    )
    if choice is None:
        return None
    if choice.from_queue:
        RoutingDecision.objects.create(
            study_id=choice.study.id,
            decided_at=now,
            mode=RoutingDecision.Mode.PULL,
            trigger=QUEUE_TRIGGER,
            tier=choice.study.escalation_tier,
            radiologist_id=radiologist_id,
            trace={"chosen": radiologist_id, "source": "queue", "rule": READ_NEXT_RULE},
        )
        return Claimed(study_ids=[choice.study.id], from_queue=True)
    claimed: list[int] = []
    for position, facts in enumerate((choice.study, *choice.bundle)):
        study = lock_study(facts.id)
        if study.status != StudyStatus.READY:
            continue
        record_transition(
            study=study,
            to_status=StudyStatus.ASSIGNED,
            actor=actor,
            at=now,
            reason="read next" if position == 0 else "read next: same patient",
            data=read_next_decision(
                radiologist_id=radiologist_id,
                tier=max(study.escalation_tier, facts.surge_tier),
                bundled=position > 0,
            ),
        )
        Assignment.objects.create(
            study=study,
            radiologist_id=radiologist_id,
            kind=Assignment.Kind.PULL,
            assigned_at=now,
            assigned_by_id=actor.user_id,
            last_activity_at=now,
        )
        claimed.append(study.id)
    return Claimed(study_ids=claimed) if claimed else None


def study_claim_next(
    *, radiologist_id: int, actor: Actor, before: routing.TaskBound | None = None
) -> Claimed | None:
    """ "Read next": the first study in reading order among the reader's own queue and the
    free studies they may take; a free one is claimed atomically. None: nothing to read.
    ``before``: the reader's first task; only a study that comes before it is given."""
    now = timezone.now()
    if queries.hand_written("claim"):
        # One statement is its own transaction (or joins the caller's): no BEGIN and COMMIT
        # round trips around it. Broadcasts still go out only once it has committed.
        return _claim_next_postgresql(
            radiologist_id=radiologist_id, actor=actor, now=now, before=before
        )
    with transaction.atomic():
        return _claim_next_python(
            radiologist_id=radiologist_id, actor=actor, now=now, before=before
        )


@dataclass(frozen=True, slots=True)
class ReadNextAnswer:
    """What "read next" opens: a study (``claimed``) or one of the reader's tasks (``task``, a
    peer review), whichever comes first in reading order; neither: nothing to read."""

    claimed: Claimed | None = None
    task: hooks.ReadingOrderTask | None = None
    # The reader's first task whatever was opened: a caller that passes over the claimed study
    # (the one the reader is on) weighs it against the next study waiting.
    first_task: hooks.ReadingOrderTask | None = None

    @property
    def url(self) -> str:
        if self.task is not None:
            return self.task.url
        assert self.claimed is not None
        return reverse("reading", kwargs={"study_id": self.claimed.study_id})


def reading_order_next(
    *,
    user: AbstractBaseUser | AnonymousUser,
    radiologist_id: int,
    site_ids: set[int] | None,
    actor: Actor,
) -> ReadNextAnswer | None:
    """ "Read next" over the whole reading order: the reader's first task (one query, through
    worklists.hooks) bounds the claim, which gives a study only if it comes before that task
    (worklists.routing.comes_before_task); otherwise the task opens. ``site_ids``: the
    scoping function's answer for ``user`` (the caller has it, or needs it next)."""
    first_task = next(
        iter(
            hooks.reading_order_tasks(
                user=user, radiologist_id=radiologist_id, site_ids=site_ids, limit=1
            )
        ),
        None,
    )
    claimed = study_claim_next(
        radiologist_id=radiologist_id,
        actor=actor,
        before=first_task.bound if first_task is not None else None,
    )
    if claimed is not None:
        return ReadNextAnswer(claimed=claimed, first_task=first_task)
    if first_task is not None:
        return ReadNextAnswer(task=first_task, first_task=first_task)
    return None
