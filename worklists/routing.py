"""Routing: who may read a study, and who should. Pure Python over plain data (no ORM).

Hard filters decide eligibility; a score ranks the eligible. Both explain themselves: every
decision carries the eligible readers with their score components and the excluded readers with
the reason, which is stored and shown to coordinators.

Escalation tiers widen eligibility as a deadline nears with nobody reading:
0 primary readers on a shift covering the worklist and site; 1 backup readers too; 2 every
competent, credentialed reader on any shift; 3 as 2, and a coordinator is alerted.
A coordinator's surge raises a worklist's studies (or every worklist's) to tier 1 or 2 at once
until its end: a study is routed at the higher of its own tier and the surge's.

One reading order (reading_order) governs "read next" and the reader's queue. A reader's tasks
(a peer review: worklists.hooks.register_reading_order_tasks) take their place in it by one
rule, defined here only (TASK_ROUTING_RANK, comes_before_task): a task ranks as a routine study
with its own deadline; on an equal rank and deadline the study comes first.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

PRIMARY = "PRIMARY"
BACKUP = "BACKUP"
STAT = "STAT"

TIER_PRIMARY = 0
TIER_BACKUP = 1
TIER_POOL = 2
TIER_ALERT = 3

# Score weights: bundling outranks everything, then a reader's STAT load for urgent studies,
# then work units against target; queue length breaks the rest, more so as the deadline nears.
BUNDLE_WEIGHT = 1_000_000.0
STAT_LOAD_WEIGHT = 1_000.0
BALANCE_WEIGHT = 100.0
QUEUE_WEIGHT = 1.0

Pair = tuple[int, int]  # (worklist id, site id)

_ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class CredentialFacts:
    site_id: int
    time_zone: str
    valid_from: dt.date
    valid_until: dt.date | None
    revoked: bool = False

    def valid_at(self, at: dt.datetime) -> bool:
        """Valid on the site's own calendar day at ``at``."""
        if self.revoked:
            return False
        day = _local_day(self.time_zone, at)
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@functools.lru_cache(maxsize=4096)
def _local_day(time_zone: str, at: dt.datetime) -> dt.date:
    """The calendar day at ``at`` in ``time_zone``. Cached: one push asks it for every
    candidate's credentials at the same moment, and the planner's replay asks it millions of
    times (a conversion through zoneinfo costs more than the rest of the check)."""
    return at.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


@dataclass(frozen=True, slots=True)
class ShiftFacts:
    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    role: str = PRIMARY
    worklist_ids: frozenset[int] | None = None  # None: every worklist
    site_ids: frozenset[int] | None = None  # None: every site
    target_work_units: Decimal = Decimal("0")
    carried_deficit: Decimal = Decimal("0")

    def active_at(self, at: dt.datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def covers(self, worklist_id: int, site_id: int) -> bool:
        return (self.worklist_ids is None or worklist_id in self.worklist_ids) and (
            self.site_ids is None or site_id in self.site_ids
        )


@dataclass(frozen=True, slots=True)
class ReaderFacts:
    id: int
    name: str
    modalities: frozenset[str]
    competences: Mapping[int, str]  # worklist id -> PRIMARY or BACKUP
    credentials: tuple[CredentialFacts, ...]
    shifts: tuple[ShiftFacts, ...]
    is_active: bool = True
    member_site_ids: frozenset[int] = frozenset()
    queue_work_units: Decimal = Decimal("0")  # held now, not yet signed
    stat_held: int = 0  # STAT or critical studies held now
    shift_work_units: Decimal = Decimal("0")  # assigned since the current shift began
    held_patient_ids: frozenset[int] = frozenset()
    last_active_at: dt.datetime | None = None  # last open, autosave, claim or sign-in

    def active_shifts(self, at: dt.datetime) -> list[ShiftFacts]:
        # ShiftFacts.active_at written out: asked for every candidate of every push, twice.
        return [s for s in self.shifts if s.starts_at <= at < s.ends_at]

    def idle_since(self, at: dt.datetime) -> dt.datetime | None:
        """Since when the reader has shown no sign of working: their last activity or the
        start of the shift they are on, whichever is later. None when off shift."""
        starts = [s.starts_at for s in self.active_shifts(at)]
        if not starts:
            return None
        shift_start = min(starts)
        if self.last_active_at is None or self.last_active_at < shift_start:
            return shift_start
        return self.last_active_at


@dataclass(frozen=True, slots=True)
class StudyFacts:
    id: int
    site_id: int
    worklist_id: int
    modality: str
    priority: str
    routing_rank: int
    deadline: dt.datetime | None
    ready_at: dt.datetime | None
    patient_id: int
    work_units: Decimal
    site_covered: bool = True  # the site outsources now (inside a coverage window)
    is_critical: bool = False
    escalation_tier: int = TIER_PRIMARY
    surge_tier: int = TIER_PRIMARY  # of the surges running for its worklist (running_surge_tier)
    # Readers kept off this study, and sites whose readers are (double reading: the first
    # reader, and their site when the policy wants the second reader from another site).
    excluded_reader_ids: frozenset[int] = frozenset()
    excluded_site_ids: frozenset[int] = frozenset()
    # Readers the study is reserved for (double reading: a consensus group arbitrates); empty:
    # no reservation, anyone the rules allow.
    reserved_for_ids: frozenset[int] = frozenset()

    @property
    def effective_tier(self) -> int:
        """The tier it is routed at: its own escalation tier, or a running surge's if higher."""
        return max(self.escalation_tier, self.surge_tier)

    @property
    def waives_cap(self) -> bool:
        return self.priority == STAT or self.is_critical or self.routing_rank == 0


@dataclass(frozen=True, slots=True)
class Policy:
    queue_cap_work_units: Decimal
    # A reader idle (no open, autosave, claim or sign-in) for longer receives no pushes until
    # they act again; None: pushes regardless.
    push_idle_after: dt.timedelta | None = None

    def is_idle(self, reader: ReaderFacts, now: dt.datetime) -> bool:
        if self.push_idle_after is None:
            return False
        since = reader.idle_since(now)
        return since is not None and now - since > self.push_idle_after


@dataclass(frozen=True, slots=True)
class Candidate:
    reader_id: int
    name: str
    score: float
    components: dict[str, float]


@dataclass(frozen=True, slots=True)
class Exclusion:
    reader_id: int
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    study_id: int
    tier: int
    eligible: list[Candidate] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)

    @property
    def chosen(self) -> Candidate | None:
        return self.eligible[0] if self.eligible else None

    def trace(self) -> dict[str, object]:
        return {
            "tier": self.tier,
            "chosen": self.chosen.reader_id if self.chosen else None,
            "eligible": [
                {"id": c.reader_id, "name": c.name, "score": round(c.score, 3), **c.components}
                for c in self.eligible
            ],
            "excluded": [
                {"id": e.reader_id, "name": e.name, "reason": e.reason} for e in self.excluded
            ],
        }


@dataclass(frozen=True, slots=True)
class SurgeFacts:
    """A coordinator's surge: until ``ends_at`` the studies of ``worklist_id`` (None: of every
    worklist) are routed at ``tier`` at least."""

    worklist_id: int | None
    tier: int
    ends_at: dt.datetime


def running_surge_tier(surges: Iterable[SurgeFacts], *, worklist_id: int, now: dt.datetime) -> int:
    """The tier the surges running at ``now`` raise ``worklist_id``'s studies to: the highest of
    the worklist's and every worklist's; TIER_PRIMARY when none. A surge past its end raises
    nothing, so it ends by itself: nothing has to run for it to stop widening."""
    return max(
        (
            s.tier
            for s in surges
            if s.ends_at > now and (s.worklist_id is None or s.worklist_id == worklist_id)
        ),
        default=TIER_PRIMARY,
    )


def next_surge_tier(current: int) -> int | None:
    """The tier a surge "to the next tier" widens to from ``current`` (the running surges'
    tier, TIER_PRIMARY when none): backup readers, then every competent reader on shift. None
    when it is that wide already."""
    return current + 1 if current < TIER_POOL else None


def _credential_reason(reader: ReaderFacts, site_id: int, now: dt.datetime) -> str | None:
    # One pass for the usual answer (a valid credential); the reason is worked out only when
    # there is none.
    for credential in reader.credentials:
        if credential.site_id == site_id and credential.valid_at(now):
            return None
    at_site = [c for c in reader.credentials if c.site_id == site_id]
    if not at_site:
        return "no credential for this site"
    live = [c for c in at_site if not c.revoked]
    if not live:
        return "credential for this site revoked"
    latest = max(live, key=lambda c: c.valid_from)
    local_day = _local_day(latest.time_zone, now)
    if latest.valid_until is not None and local_day > latest.valid_until:
        return f"credential for this site expired on {latest.valid_until.isoformat()}"
    return f"credential for this site not valid until {latest.valid_from.isoformat()}"


def _shift_reason(
    reader: ReaderFacts, worklist_id: int, site_id: int, tier: int, now: dt.datetime
) -> str | None:
    active = reader.active_shifts(now)
    if not active:
        return "not on shift"
    if tier >= TIER_POOL:
        return None
    covering = [s for s in active if s.covers(worklist_id, site_id)]
    if not covering:
        return "on shift, but not for this worklist and site"
    if tier < TIER_BACKUP and all(s.role == BACKUP for s in covering):
        return "backup on this shift (primary readers only at tier 0)"
    return None


READ_ALREADY = "has read this study already: the reads are independent"
SAME_SITE_AS_EARLIER_READER = "works at the site of an earlier reader of this study"
NOT_RESERVED_FOR = "not among the readers this study is reserved for"
STUDY_EXCLUSIONS = frozenset({READ_ALREADY, SAME_SITE_AS_EARLIER_READER, NOT_RESERVED_FOR})
# What keeps the reads independent: no coordinator overrides these. A reservation (a consensus
# group) they may, with a reason, when the group cannot read it.
INDEPENDENCE_EXCLUSIONS = frozenset({READ_ALREADY, SAME_SITE_AS_EARLIER_READER})


def study_exclusion(
    *, reader_id: int, member_site_ids: frozenset[int], study: StudyFacts
) -> str | None:
    """Why this study keeps the reader off itself (an earlier read of theirs, or of their
    site's; reserved for others), or None. A rule no tier, surge or queue waives."""
    if reader_id in study.excluded_reader_ids:
        return READ_ALREADY
    if member_site_ids & study.excluded_site_ids:
        return SAME_SITE_AS_EARLIER_READER
    if study.reserved_for_ids and reader_id not in study.reserved_for_ids:
        return NOT_RESERVED_FOR
    return None


def exclusion_reason(
    reader: ReaderFacts,
    study: StudyFacts,
    *,
    now: dt.datetime,
    policy: Policy,
    tier: int,
    apply_cap: bool = True,
) -> str | None:
    """Why ``reader`` may not get ``study`` now, or None when they may."""
    if not reader.is_active:
        return "not an active radiologist"
    if reason := study_exclusion(
        reader_id=reader.id, member_site_ids=reader.member_site_ids, study=study
    ):
        return reason
    level = reader.competences.get(study.worklist_id)
    if level is None:
        return "not competent in this worklist"
    if level == BACKUP and tier < TIER_BACKUP:
        return "backup competence (primary readers only at tier 0)"
    if reason := _credential_reason(reader, study.site_id, now):
        return reason
    if study.modality not in reader.modalities:
        return f"does not read {study.modality}"
    if not study.site_covered and study.site_id not in reader.member_site_ids:
        return "outside the site's coverage window: its own readers read it"
    if reason := _shift_reason(reader, study.worklist_id, study.site_id, tier, now):
        return reason
    if apply_cap and policy.is_idle(reader, now):
        minutes = int(policy.push_idle_after.total_seconds() // 60) if policy.push_idle_after else 0
        return f"idle for more than {minutes} minutes: no pushes until they act again"
    if (
        apply_cap
        and not study.waives_cap
        and reader.queue_work_units > 0
        and reader.queue_work_units + study.work_units > policy.queue_cap_work_units
    ):
        return (
            f"queue full ({reader.queue_work_units:.2f} + {study.work_units:.2f} of "
            f"{policy.queue_cap_work_units:.2f} work units)"
        )
    return None


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """When a study waiting with nobody reading reaches each tier (shares of ready-to-deadline
    used), and how long it waits before it moves one step up the reading order."""

    backup_at: float
    pool_at: float
    alert_at: float
    max_wait: dt.timedelta


def escalation_tier(
    *, ready_at: dt.datetime, deadline: dt.datetime, now: dt.datetime, policy: EscalationPolicy
) -> int:
    """The tier a study waiting since ``ready_at`` for ``deadline`` has reached at ``now``."""
    total = (deadline - ready_at).total_seconds()
    used = 1.0 if total <= 0 else (now - ready_at).total_seconds() / total
    if used >= policy.alert_at:
        return TIER_ALERT
    if used >= policy.pool_at:
        return TIER_POOL
    if used >= policy.backup_at:
        return TIER_BACKUP
    return TIER_PRIMARY


def aged_rank(
    *, base_rank: int, ready_at: dt.datetime, now: dt.datetime, policy: EscalationPolicy
) -> int:
    """One step up the reading order per ``policy.max_wait`` waited; never to the top step,
    which belongs to STAT and critical findings."""
    steps = math.floor((now - ready_at) / policy.max_wait)
    return base_rank if base_rank == 0 else max(1, base_rank - steps)


def urgency(study: StudyFacts, now: dt.datetime) -> float:
    """Share of the time from ready to deadline already used: 0 fresh, 1 due, above 1 overdue."""
    if study.deadline is None or study.ready_at is None:
        return 0.0
    total = (study.deadline - study.ready_at).total_seconds()
    if total <= 0:
        return 2.0
    return min(2.0, max(0.0, (now - study.ready_at).total_seconds() / total))


def balance(reader: ReaderFacts, now: dt.datetime) -> float:
    """Work units assigned this shift against target, deficit from the last shift carried over.

    Lower means further behind: 0 at target pace start, negative with a deficit."""
    shifts = reader.active_shifts(now)
    target = max([s.target_work_units for s in shifts], default=_ZERO)
    deficit = max([s.carried_deficit for s in shifts], default=_ZERO)
    done = reader.shift_work_units - deficit
    return float(done / target) if target > 0 else float(done) / 10.0


def _score_parts(
    reader: ReaderFacts, study: StudyFacts, now: dt.datetime, study_urgency: float | None = None
) -> tuple[bool, float, float, float]:
    """The score's components and its total, the one place the score is computed.
    ``study_urgency``: urgency(study, now), when the caller weighs many readers for one study."""
    bundled = study.patient_id in reader.held_patient_ids
    stat_load = float(reader.stat_held) if study.waives_cap else 0.0
    load = balance(reader, now)
    if study_urgency is None:
        study_urgency = urgency(study, now)
    queue = float(reader.queue_work_units) * (1.0 + study_urgency)
    total = (
        BUNDLE_WEIGHT * bundled
        - STAT_LOAD_WEIGHT * stat_load
        - BALANCE_WEIGHT * load
        - QUEUE_WEIGHT * queue
    )
    return bundled, stat_load, load, total


def score(reader: ReaderFacts, study: StudyFacts, now: dt.datetime) -> Candidate:
    bundled, stat_load, load, total = _score_parts(reader, study, now)
    return Candidate(
        reader_id=reader.id,
        name=reader.name,
        score=total,
        components={
            "bundled": float(bundled),
            "stat_load": stat_load,
            "balance": round(load, 4),
            "queue_work_units": float(reader.queue_work_units),
        },
    )


def decide(
    study: StudyFacts,
    readers: Iterable[ReaderFacts],
    *,
    now: dt.datetime,
    policy: Policy,
    tier: int | None = None,
    exclude_ids: frozenset[int] = frozenset(),
) -> Decision:
    """Every reader judged for one study: the eligible ranked best first, the rest with why."""
    if now.tzinfo is None:
        raise ValueError("routing needs a timezone-aware time")
    tier = study.effective_tier if tier is None else tier
    eligible: list[Candidate] = []
    excluded: list[Exclusion] = []
    for reader in readers:
        if reader.id in exclude_ids:
            excluded.append(Exclusion(reader.id, reader.name, "just released or let it expire"))
            continue
        reason = exclusion_reason(reader, study, now=now, policy=policy, tier=tier)
        if reason is None:
            eligible.append(score(reader, study, now))
        else:
            excluded.append(Exclusion(reader.id, reader.name, reason))
    eligible.sort(key=lambda c: (-c.score, c.reader_id))
    excluded.sort(key=lambda e: e.reader_id)
    return Decision(study_id=study.id, tier=tier, eligible=eligible, excluded=excluded)


def choose(
    study: StudyFacts,
    readers: Iterable[ReaderFacts],
    *,
    now: dt.datetime,
    policy: Policy,
    tier: int | None = None,
    exclude_ids: frozenset[int] = frozenset(),
) -> Candidate | None:
    """``decide(...).chosen`` without the explanation: the same rules and the same score pick
    the same reader, but the excluded readers' reasons, the losers' score components and the
    ranking are not built. For callers that act on the choice alone and never store or show
    the trace (the capacity planner replays a month of pushes through it)."""
    if now.tzinfo is None:
        raise ValueError("routing needs a timezone-aware time")
    tier = study.effective_tier if tier is None else tier
    study_urgency = urgency(study, now)  # the same for every reader
    best: ReaderFacts | None = None
    best_key: tuple[float, int] | None = None
    for reader in readers:
        if reader.id in exclude_ids:
            continue
        if exclusion_reason(reader, study, now=now, policy=policy, tier=tier) is not None:
            continue
        # decide ranks by (-score, reader id), stably: the first reader with the least key wins.
        key = (-_score_parts(reader, study, now, study_urgency)[3], reader.id)
        if best_key is None or key < best_key:
            best, best_key = reader, key
    return None if best is None else score(best, study, now)


def reading_order(study: StudyFacts) -> tuple[int, dt.datetime, int]:
    """The one reading order, for the reader's own queue and the pool alike: STAT and critical
    first, then by deadline (escalation's age bump lowers the rank of long waiters).

    Mirrors the index the claim statement walks: (routing_rank, deadline NULLS LAST, id)."""
    return (study.routing_rank, study.deadline or dt.datetime.max.replace(tzinfo=dt.UTC), study.id)


# Tasks in the reading order ------------------------------------------------------------------
# A reader's reading order holds more than studies: a task an adapter gives them (a peer review,
# worklists.hooks.register_reading_order_tasks) takes its place in the same order. This is the
# one rule for where: a task ranks as a routine study (TASK_ROUTING_RANK) with its own deadline.
# So STAT, critical, urgent and cancer-pathway studies come before every task; among routine
# work the nearer deadline comes first, whichever it is; on an equal rank and deadline the study
# comes first (a study has a patient waiting for its report). A study without a deadline comes
# after a task of its rank (a task always has one).
TASK_ROUTING_RANK = 3
_NO_DEADLINE = dt.datetime.max.replace(tzinfo=dt.UTC)
STUDY_KIND, TASK_KIND = 0, 1

ReadingPosition = tuple[int, dt.datetime, int, int]


@dataclass(frozen=True, slots=True)
class TaskBound:
    """Where the reader's first task stands in the reading order: "read next" gives a study
    only if it comes before this (comes_before_task)."""

    routing_rank: int
    deadline: dt.datetime


def study_position(
    routing_rank: int, deadline: dt.datetime | None, study_id: int
) -> ReadingPosition:
    """A study's place in the mixed reading order (studies and tasks): reading_order, with a
    kind between the deadline and the id so that a study precedes a task at a tie."""
    return (routing_rank, deadline or _NO_DEADLINE, STUDY_KIND, study_id)


def task_position(routing_rank: int, deadline: dt.datetime, task_id: int) -> ReadingPosition:
    return (routing_rank, deadline, TASK_KIND, task_id)


def comes_before_task(study: StudyFacts, task: TaskBound | None) -> bool:
    """Whether ``study`` comes before ``task`` in the reading order (always, with no task).
    The claim statement (worklists.queries) says the same in SQL."""
    if task is None:
        return True
    return (study.routing_rank, study.deadline or _NO_DEADLINE) <= (
        task.routing_rank,
        task.deadline,
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """The (worklist, site) pairs a reader may take at each tier, for the claim statement."""

    modalities: frozenset[str]
    pairs_by_tier: tuple[frozenset[Pair], frozenset[Pair], frozenset[Pair]]

    def allows(self, study: StudyFacts) -> bool:
        if study.modality not in self.modalities:
            return False
        pair = (study.worklist_id, study.site_id)
        top = min(study.effective_tier, TIER_POOL)
        return any(pair in self.pairs_by_tier[t] for t in range(top + 1))

    @property
    def is_empty(self) -> bool:
        return not any(self.pairs_by_tier)


def reader_scope(
    reader: ReaderFacts,
    *,
    now: dt.datetime,
    site_ids: Iterable[int],
    covered_site_ids: frozenset[int],
) -> Scope:
    """What ``reader`` may pull now, per tier; the same rules as exclusion_reason without the
    queue cap (a reader asking for work is not pushed beyond a cap)."""
    tiers: list[frozenset[Pair]] = []
    sites = list(site_ids)
    for tier in (TIER_PRIMARY, TIER_BACKUP, TIER_POOL):
        pairs: set[Pair] = set()
        if reader.is_active:
            for worklist_id, level in reader.competences.items():
                if level == BACKUP and tier < TIER_BACKUP:
                    continue
                for site_id in sites:
                    if _credential_reason(reader, site_id, now) is not None:
                        continue
                    if site_id not in covered_site_ids and site_id not in reader.member_site_ids:
                        continue
                    if _shift_reason(reader, worklist_id, site_id, tier, now) is not None:
                        continue
                    pairs.add((worklist_id, site_id))
        tiers.append(frozenset(pairs))
    return Scope(
        modalities=reader.modalities if reader.is_active else frozenset(),
        pairs_by_tier=(tiers[0], tiers[1], tiers[2]),
    )


def facts_change_by_clock(reader: ReaderFacts, *, now: dt.datetime) -> dt.datetime | None:
    """The next moment the clock alone changes what ``reader`` may read: one of the shifts in
    ``reader.shifts`` starts or ends, or a credential's first day begins or its last day ends
    on its site's own calendar. None when nothing is due. Until then reader_scope gives the
    same scope for the same covered sites. (Callers that load only the shifts running now
    learn of a later shift's start, which only widens the scope, on their own schedule, as
    they do of coverage windows opening and closing.)"""
    moments: list[dt.datetime] = []
    for shift in reader.shifts:
        moments += [moment for moment in (shift.starts_at, shift.ends_at) if moment > now]
    for credential in reader.credentials:
        if credential.revoked:
            continue
        zone = zoneinfo.ZoneInfo(credential.time_zone)
        days = [credential.valid_from]
        if credential.valid_until is not None and credential.valid_until < dt.date.max:
            days.append(credential.valid_until + dt.timedelta(days=1))
        for day in days:
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
            if midnight > now:
                moments.append(midnight)
    return min(moments, default=None)


@dataclass(frozen=True, slots=True)
class ReadNext:
    """What "read next" gives a reader: ``study``, either from their own queue (pushed or
    assigned to them, not yet opened) or claimed from the pool with ``bundle``, the same
    patient's other unread studies they may take."""

    study: StudyFacts
    from_queue: bool
    bundle: tuple[StudyFacts, ...] = ()


def read_next(
    free: Sequence[StudyFacts],
    *,
    held: Sequence[StudyFacts],
    scope: Scope,
    reader_id: int | None = None,
    member_site_ids: frozenset[int] = frozenset(),
    before: TaskBound | None = None,
) -> ReadNext | None:
    """One reading order for everything a reader may read: the first, in reading order, of
    the studies in their own queue and the free studies their scope allows. A study in their
    own queue is never passed over for a less urgent pool study; on a tie the queue wins (it is
    theirs already). The queue is not filtered by scope: what was given to them is theirs.
    A free study that keeps ``reader_id`` (or their site) off itself is not theirs to take.
    ``before``: the reader's first task; only a study that comes before it is given (None: the
    task comes first)."""
    own = min((s for s in held if comes_before_task(s, before)), key=reading_order, default=None)
    takeable = sorted(
        (
            s
            for s in free
            if scope.allows(s)
            and (
                reader_id is None
                or study_exclusion(reader_id=reader_id, member_site_ids=member_site_ids, study=s)
                is None
            )
        ),
        key=reading_order,
    )
    allowed = [s for s in takeable if comes_before_task(s, before)]
    if own is not None and (not allowed or reading_order(own) <= reading_order(allowed[0])):
        return ReadNext(study=own, from_queue=True)
    if not allowed:
        return None
    first = allowed[0]
    # The same patient's other studies are read with the first whatever their place (the task
    # bounds which study opens, not what comes with it), as the claim statement does.
    bundle = tuple(s for s in takeable if s.patient_id == first.patient_id and s is not first)
    return ReadNext(study=first, from_queue=False, bundle=bundle)
