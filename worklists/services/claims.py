"""Pull: "read next", claiming one study, releasing it, coordinator assignment, idle expiry.

"Read next" follows one reading order for everything the reader may read: the first study in
reading order among their own queue (pushed or given to them, not yet opened) and the free
studies they may take (worklists.routing.read_next). On PostgreSQL that is one statement: it
finds the first queued study, claims a free study only if it comes strictly before that one
(``FOR UPDATE SKIP LOCKED``, with the same patient's other unread studies), writes their
assignments and events, and otherwise records the queue's study as the decision. A claim's
decision is stored once, in its event; a pick from the queue as a routing decision; both are
listed by selectors.routing_decisions. Eligibility is the reader's pull scope, built by
worklists.routing and cached for a short while; the statement decides nothing once the reader's
facts have changed since (see the note above the statement), so a revoked credential or an
ended shift counts at once. SQLite serialises writers, so there the same rules run through
worklists.routing on every claim.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from worklists import live, prepared, routing
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
from worklists.services import routing as routing_service
from worklists.services.pushes import fill_queue_after_commit, route_after_commit
from worklists.services.studies import (
    NotEligible,
    NotTheHolder,
    ReasonRequired,
    study_assign,
    study_reassign,
    study_start_reading,
)
from worklists.services.transitions import end_active_assignment, lock_study, record_transition

# Advisory lock namespace (first key) for "a reader is claiming this patient's studies".
PATIENT_LOCK_CLASS = 72010


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


READ_NEXT_RULE = (
    "first in reading order among the studies in the own queue and the free ones in scope"
)
QUEUE_TRIGGER = "read next: own queue"
assert "'" not in READ_NEXT_RULE + RoutingDecision.READ_NEXT + QUEUE_TRIGGER  # SQL literals

# Activity is written at most this often per reader: enough for "idle for N minutes", and a busy
# reader's autosaves do not all rewrite their row.
ACTIVITY_GRANULARITY = dt.timedelta(seconds=60)

# "Read next". One reading order for everything the reader may read: ``held`` is the first study
# in their own queue (pushed or given to them, not yet opened); a free study is claimed only if
# it comes strictly before that one in reading order, so a queued STAT is never passed over for a
# routine pool study. Which (worklist, site) pairs the reader may take, and from which escalation
# tier, is the reader's pull scope (worklists.routing.reader_scope, as on SQLite), passed as
# arrays. The scope may come from the process's cache: the statement decides nothing unless the
# reader's facts (shifts, competences, credentials, active) are unchanged since it was built, by
# the count database triggers keep (ReaderFactsVersion); the clock's changes (a shift ending, a
# credential's last day) end the cached scope before they happen (PullScope.valid_until). When the
# queue's study wins, the decision is stored as a routing decision and the study is returned as
# it is (it is the reader's already); otherwise the claim's event carries the decision.
_CLAIM_SQL = f"""
WITH current AS (
    SELECT (SELECT coalesce(max(v.version), 0) FROM worklists_readerfactsversion v
            WHERE v.radiologist_id = %(rid)s) = %(facts_version)s AS ok
), held AS (
    SELECT s.id, s.site_id, s.routing_rank, s.deadline, s.escalation_tier
    FROM worklists_assignment a JOIN worklists_study s ON s.id = a.study_id
    WHERE a.radiologist_id = %(rid)s AND a.ended_at IS NULL AND s.status = 'ASSIGNED'
    ORDER BY s.routing_rank, s.deadline, s.id
    LIMIT 1
), first AS (
    SELECT s.id, s.patient_id FROM worklists_study s
    WHERE s.status = 'READY' AND %(any_scope)s AND (SELECT ok FROM current)
      AND (NOT EXISTS (SELECT 1 FROM held)
           OR (s.routing_rank, s.deadline, s.id)
              < (SELECT h.routing_rank, coalesce(h.deadline, 'infinity'::timestamptz), h.id
                 FROM held h))
      -- CASE fixes the order: only a study the reader may take (its modality; its worklist,
      -- site and escalation tier among the reader's) tries the patient's advisory lock, which
      -- keeps other readers off this patient's studies until this statement ends, so the
      -- bundle below gets them all.
      AND CASE WHEN s.modality = ANY(%(modalities)s::text[])
               AND s.worklist_id * 4294967296 + s.site_id = ANY(CASE LEAST(s.escalation_tier, 2)
                   WHEN 0 THEN %(k0)s::bigint[]
                   WHEN 1 THEN coalesce(%(k1)s::bigint[], %(k0)s::bigint[])
                   ELSE coalesce(%(k2)s::bigint[], %(k1)s::bigint[], %(k0)s::bigint[]) END)
          THEN pg_try_advisory_xact_lock({PATIENT_LOCK_CLASS}, (s.patient_id %% 2147483647)::int)
          ELSE false END
    ORDER BY s.routing_rank, s.deadline, s.id
    LIMIT 1
    FOR UPDATE OF s SKIP LOCKED
), bundle AS (
    SELECT s.id FROM worklists_study s JOIN first f ON s.patient_id = f.patient_id
    WHERE s.id <> f.id AND s.status = 'READY' AND s.modality = ANY(%(modalities)s::text[])
      AND s.worklist_id * 4294967296 + s.site_id = ANY(CASE LEAST(s.escalation_tier, 2)
          WHEN 0 THEN %(k0)s::bigint[]
          WHEN 1 THEN coalesce(%(k1)s::bigint[], %(k0)s::bigint[])
          ELSE coalesce(%(k2)s::bigint[], %(k1)s::bigint[], %(k0)s::bigint[]) END)
    FOR UPDATE OF s SKIP LOCKED
), picked AS (
    SELECT id, 0 AS pos FROM first UNION ALL SELECT id, 1 AS pos FROM bundle
), claimed AS (
    UPDATE worklists_study s
    SET status = 'ASSIGNED', status_changed_at = %(now)s, updated_at = %(now)s
    FROM picked p
    WHERE s.id = p.id AND s.status = 'READY'
    RETURNING s.id, s.site_id, s.escalation_tier, p.pos
), assigned AS (
    INSERT INTO worklists_assignment
        (study_id, radiologist_id, kind, assigned_at, assigned_by_id, reason, last_activity_at,
         end_reason)
    SELECT id, %(rid)s::bigint, 'PULL', %(now)s::timestamptz, %(uid)s::bigint, '',
        %(now)s::timestamptz, ''
    FROM claimed
), evented AS (
    INSERT INTO worklists_studyevent
        (study_id, from_status, to_status, actor_id, actor_label, at, reason, data)
    SELECT id, 'READY', 'ASSIGNED', %(uid)s::bigint, %(label)s::text, %(now)s::timestamptz,
        CASE WHEN pos = 0 THEN 'read next' ELSE 'read next: same patient' END,
        jsonb_build_object('decision', '{RoutingDecision.READ_NEXT}', 'radiologist_id',
            %(rid)s::bigint, 'kind', 'PULL', 'tier', escalation_tier, 'bundled', pos = 1,
            'rule', '{READ_NEXT_RULE}'::text)
    FROM claimed
), from_queue AS (
    INSERT INTO worklists_routingdecision
        (study_id, decided_at, mode, trigger, tier, radiologist_id, trace)
    SELECT h.id, %(now)s::timestamptz, 'PULL', '{QUEUE_TRIGGER}', h.escalation_tier,
        %(rid)s::bigint, jsonb_build_object('chosen', %(rid)s::bigint, 'source', 'queue',
            'rule', '{READ_NEXT_RULE}'::text)
    FROM held h
    WHERE (SELECT ok FROM current) AND NOT EXISTS (SELECT 1 FROM claimed)
    RETURNING study_id
), active AS (
    UPDATE worklists_radiologist SET last_active_at = %(now)s
    WHERE id = %(rid)s AND (last_active_at IS NULL OR last_active_at < %(active_before)s)
)
SELECT id, site_id, pos FROM claimed
UNION ALL
SELECT h.id, h.site_id, -1 FROM held h JOIN from_queue q ON q.study_id = h.id
ORDER BY 3, 1
"""  # noqa: S608 - only this module's constants are formatted in, never input


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


# A (worklist, site) pair as one number for the claim statement: site ids stay below 2**32.
PAIR_KEY_FACTOR = 4294967296


def pair_key(worklist_id: int, site_id: int) -> int:
    if not 0 <= site_id < PAIR_KEY_FACTOR:
        raise ValueError(f"site id {site_id} out of range for a pair key")
    return worklist_id * PAIR_KEY_FACTOR + site_id


@functools.lru_cache(maxsize=4096)
def _scope_arrays(scope: routing.Scope) -> dict[str, str | None]:
    """The scope as array literals for the claim statement: ``k0``, ``k1``, ``k2`` hold the
    (worklist, site) pairs a study at escalation tier 0, 1 and 2 or above may come from (each
    tier adds its pairs to the ones below), as pair keys. Memoised, and as literals so that a
    claim does not convert hundreds of numbers; a short array tested with ``= ANY`` costs less
    per claim than a hashed subquery over (worklist, site, tier) triples."""

    def literal(values: Iterable[object]) -> str:
        return "{" + ",".join(str(v) for v in values) + "}"

    arrays: dict[str, str | None] = {}
    allowed: set[routing.Pair] = set()
    below = None
    for tier in (routing.TIER_PRIMARY, routing.TIER_BACKUP, routing.TIER_POOL):
        allowed |= scope.pairs_by_tier[tier]
        keys = literal(sorted(pair_key(w, s) for w, s in allowed))
        # a tier that adds nothing goes as NULL, and the statement takes the tier below: most
        # readers' tiers are all alike, and every array sent is parsed again on every claim
        arrays[f"k{tier}"] = None if keys == below else keys
        below = keys
    # modality codes are from Modality (letters only): no quoting needed
    arrays["modalities"] = literal(sorted(scope.modalities))
    return arrays


def _broadcast_claimed(rows: Sequence[tuple[int, int]]) -> None:
    """Tell the sockets watching each claimed study's site, once the claim has committed
    (batched: at hundreds of claims a second a task each would cost as much as the claim)."""
    live.broadcast_many_after_commit(
        studies=rows, event="study.status", status=StudyStatus.ASSIGNED
    )


def _run_claim(params: dict[str, Any]) -> list[tuple[int, int, int]]:
    # Prepared: planning this statement costs more than twice running it.
    return [(row[0], row[1], row[2]) for row in prepared.execute(_CLAIM_SQL, params)]


def _claim_next_postgresql(
    *, radiologist_id: int, actor: Actor, now: dt.datetime
) -> Claimed | None:
    pull = routing_service.reader_pull_scope(radiologist_id=radiologist_id, now=now)
    rows: list[tuple[int, int, int]] = []
    for attempt in ("cached", "fresh"):
        if attempt == "fresh":
            if not pull.cached:
                break
            # Nothing with the cached scope: the reader's facts may have changed.
            pull = routing_service.reader_pull_scope(
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
            **_scope_arrays(pull.scope),
        }
        rows = _run_claim(params)
        if rows:
            break
    if not rows:
        return None
    if rows[0][2] < 0:
        return Claimed(study_ids=[rows[0][0]], from_queue=True)
    _broadcast_claimed([(row[0], row[1]) for row in rows])
    return Claimed(study_ids=[row[0] for row in rows])


def _queue_facts(*, radiologist_id: int, now: dt.datetime) -> list[routing.StudyFacts]:
    """The reader's own queue: studies given to them (pushed, assigned, bundled) not yet opened."""
    uncovered = routing_service.uncovered_site_ids(now=now)
    return [
        routing_service.study_facts(s, now=now, uncovered=uncovered)
        for s in Study.objects.filter(
            status=StudyStatus.ASSIGNED,
            worklist__isnull=False,
            assignments__radiologist_id=radiologist_id,
            assignments__ended_at__isnull=True,
        )
    ]


def _claim_next_python(*, radiologist_id: int, actor: Actor, now: dt.datetime) -> Claimed | None:
    reader_mark_active(radiologist_id=radiologist_id, at=now)
    scope = routing_service.reader_pull_scope(
        radiologist_id=radiologist_id, now=now, fresh=True
    ).scope
    free: list[routing.StudyFacts] = []
    if not scope.is_empty:
        uncovered = routing_service.uncovered_site_ids(now=now)
        pairs = scope.pairs_by_tier[routing.TIER_POOL]
        free = [
            routing_service.study_facts(s, now=now, uncovered=uncovered)
            for s in Study.objects.filter(
                status=StudyStatus.READY,
                worklist_id__in={w for w, _ in pairs},
                site_id__in={s for _, s in pairs},
                modality__in=scope.modalities,
            )
        ]
    choice = routing.read_next(
        free, held=_queue_facts(radiologist_id=radiologist_id, now=now), scope=scope
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
                radiologist_id=radiologist_id, tier=study.escalation_tier, bundled=position > 0
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


def study_claim_next(*, radiologist_id: int, actor: Actor) -> Claimed | None:
    """ "Read next": the first study in reading order among the reader's own queue and the
    free studies they may take; a free one is claimed atomically. None: nothing to read."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        # One statement is its own transaction (or joins the caller's): no BEGIN and COMMIT
        # round trips around it. Broadcasts still go out only once it has committed.
        return _claim_next_postgresql(radiologist_id=radiologist_id, actor=actor, now=now)
    with transaction.atomic():
        return _claim_next_python(radiologist_id=radiologist_id, actor=actor, now=now)


def _require_eligible(radiologist_id: int, study: Study, *, now: dt.datetime) -> None:
    readers = routing_service.load_readers(now=now, radiologist_ids=[radiologist_id])
    if not readers:
        raise NotEligible(_("radiologist %(id)s does not exist") % {"id": radiologist_id})
    facts = routing_service.study_facts(
        study, now=now, uncovered=routing_service.uncovered_site_ids(now=now)
    )
    reason = routing.exclusion_reason(
        readers[0],
        facts,
        now=now,
        policy=routing_service.routing_policy(),
        tier=facts.escalation_tier,
        apply_cap=False,
    )
    if reason is not None:
        raise NotEligible(
            _("%(name)s may not read this study now: %(reason)s")
            % {"name": readers[0].name, "reason": reason}
        )


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
    _require_eligible(radiologist_id, study, now=now)
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
        tier=study.escalation_tier,
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
    "StudyEvent",
    "claim_touch",
    "claims_expire",
    "reader_mark_active",
    "reader_sign_in",
    "study_claim",
    "study_claim_next",
    "study_coordinator_assign",
    "study_open",
    "study_release",
]
