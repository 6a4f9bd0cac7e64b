"""The capacity planner's replay: a period's arrivals routed in simulated time by the production
routing rules (``worklists.routing``), read by a roster's readers. Pure Python, no Django, no
database: the loader (``worklists.planner.selectors``) hands it plain data.

What it models, event by event, as the running system does:
- a study becoming ready is pushed (``routing.choose``, ``routing.decide``'s choice without its
  trace) to the best eligible reader on shift, within the queue cap, else it waits in the pool;
- a reader who is free and on shift takes the next study by ``routing.read_next`` (their own
  queue and the pool, in reading order, within ``routing.reader_scope``), and reads it for a
  time drawn from the history of that reader and procedure;
- every ``escalate_every`` the studies still in the pool climb escalation tiers and reading
  ranks (``routing.escalation_tier``, ``routing.aged_rank``) and are pushed again at the new tier;
- coverage windows decide whether a site outsources at the moment (``coverage.is_covered``).
Simplifications, stated once: readers on shift are taken as active (no idle rule); a reader
finishes the study in hand when a shift ends, and their unopened queue goes back to routing.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import heapq
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from worklists import coverage, routing
from worklists.planner.results import Outcome, Read, hourly_queue_depth


@dataclass(frozen=True, slots=True)
class Arrival:
    id: int
    site_id: int
    worklist_id: int
    modality: str
    priority: str
    routing_rank: int  # the priority's reading rank (0 STAT .. 3 routine)
    work_units: Decimal
    patient_id: int
    ready_at: dt.datetime
    deadline: dt.datetime | None
    procedure_code: str = ""


@dataclass(frozen=True, slots=True)
class SiteCoverage:
    time_zone: str
    windows: tuple[coverage.Window, ...]


@dataclass(frozen=True)
class ReadingTimes:
    """Minutes a read takes, drawn from history: the reader's own reads of the procedure, else
    their minutes per work unit, else everyone's minutes per work unit."""

    by_reader_procedure: Mapping[tuple[int, str], Sequence[float]]
    per_work_unit_by_reader: Mapping[int, Sequence[float]]
    per_work_unit: Sequence[float]

    def draw(self, reader_id: int, arrival: Arrival, rng: random.Random) -> float:
        own = self.by_reader_procedure.get((reader_id, arrival.procedure_code))
        if own:
            return rng.choice(own)
        pace = self.per_work_unit_by_reader.get(reader_id) or self.per_work_unit
        if not pace:
            raise ValueError("no reading times in the history to draw from")
        return rng.choice(pace) * float(arrival.work_units)


@dataclass(frozen=True)
class Scenario:
    name: str
    arrivals: Sequence[Arrival]
    readers: Sequence[routing.ReaderFacts]  # competences, credentials, shifts; load is simulated
    reading_times: ReadingTimes
    policy: routing.Policy
    escalation: routing.EscalationPolicy
    coverage: Mapping[int, SiteCoverage] = field(default_factory=dict)
    push: bool = True
    escalate_every: dt.timedelta = dt.timedelta(minutes=1)
    seed: int = 0


@dataclass
class _Study:
    arrival: Arrival
    tier: int = routing.TIER_PRIMARY
    rank: int = 3
    reader_id: int | None = None
    assigned_at: dt.datetime | None = None
    opened_at: dt.datetime | None = None
    final_at: dt.datetime | None = None
    next_check: dt.datetime | None = None  # before this, escalation cannot change it
    # facts() for a pull (no covered sites: a pull's scope judges coverage), kept until
    # escalation changes the tier or rank: read next asks it of every study in the pool.
    pull_facts: routing.StudyFacts | None = None

    def facts_for_pull(self) -> routing.StudyFacts:
        if self.pull_facts is None:
            self.pull_facts = self.facts(frozenset())
        return self.pull_facts

    def facts(self, covered: frozenset[int]) -> routing.StudyFacts:
        a = self.arrival
        return routing.StudyFacts(
            id=a.id,
            site_id=a.site_id,
            worklist_id=a.worklist_id,
            modality=a.modality,
            priority=a.priority,
            routing_rank=self.rank,
            deadline=a.deadline,
            ready_at=a.ready_at,
            patient_id=a.patient_id,
            work_units=a.work_units,
            site_covered=a.site_id in covered,
            escalation_tier=self.tier,
        )


@dataclass
class _Reader:
    facts: routing.ReaderFacts
    queue: list[_Study] = field(default_factory=list)
    reading: _Study | None = None
    shift_units: Decimal = Decimal("0")
    scope: routing.Scope | None = None
    scope_key: tuple[frozenset[int], dt.datetime | None] | None = None
    scope_worklists: frozenset[int] = frozenset()
    # Every moment a shift starts or ends, sorted: between two of them the active shifts are
    # the same, so they are worked out once per interval, not per push.
    boundaries: list[dt.datetime] = field(default_factory=list)
    active: tuple[routing.ShiftFacts, ...] = ()
    active_since: dt.datetime | None = None
    active_until: dt.datetime | None = None  # None: no boundary left
    # live_facts' last answer, until the reader's load or active shifts change (changed()).
    live: routing.ReaderFacts | None = None

    def __post_init__(self) -> None:
        self.boundaries = sorted({m for s in self.facts.shifts for m in (s.starts_at, s.ends_at)})

    def active_shifts(self, now: dt.datetime) -> tuple[routing.ShiftFacts, ...]:
        since, until = self.active_since, self.active_until
        if since is None or now < since or (until is not None and now >= until):
            self.active = tuple(self.facts.active_shifts(now))
            after = bisect.bisect_right(self.boundaries, now)
            self.active_since = self.boundaries[after - 1] if after else now
            self.active_until = self.boundaries[after] if after < len(self.boundaries) else None
            if since is not None:
                self.live = None
        return self.active

    def on_shift(self, now: dt.datetime) -> bool:
        return bool(self.active_shifts(now))

    def changed(self) -> None:
        """Its queue, the study in hand or this shift's work units changed."""
        self.live = None

    def held(self) -> list[_Study]:
        return [*self.queue, *([self.reading] if self.reading else [])]

    def live_facts(self, now: dt.datetime) -> routing.ReaderFacts:
        active = self.active_shifts(now)  # forgets the last answer when the shifts changed
        if self.live is not None:
            return self.live
        held = self.held()
        self.live = dataclasses.replace(
            self.facts,
            shifts=active,
            queue_work_units=sum((s.arrival.work_units for s in held), Decimal("0")),
            stat_held=sum(1 for s in held if s.rank == 0),
            shift_work_units=self.shift_units,
            held_patient_ids=frozenset(s.arrival.patient_id for s in held),
        )
        return self.live


ARRIVE, FINISH, SHIFT_START, SHIFT_END, ESCALATE = range(5)


class Replay:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.rng = random.Random(scenario.seed)  # noqa: S311 (a replay, not a secret)
        self.readers = {r.id: _Reader(r) for r in scenario.readers}
        self.competent: dict[int, set[int]] = {}
        for reader in scenario.readers:
            for worklist_id in reader.competences:
                self.competent.setdefault(worklist_id, set()).add(reader.id)
        self.on_shift: set[int] = set()
        self.pool: dict[int, _Study] = {}
        self.studies = [
            _Study(arrival=a, rank=a.routing_rank)
            for a in sorted(scenario.arrivals, key=lambda a: (a.ready_at, a.id))
        ]
        self.site_ids = sorted({a.site_id for a in scenario.arrivals})
        self.events: list[tuple[dt.datetime, int, int, object]] = []
        self.sequence = 0
        self._covered_at: tuple[dt.datetime, frozenset[int]] | None = None

    def _at(self, when: dt.datetime, kind: int, payload: object) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (when, kind, self.sequence, payload))

    def covered(self, now: dt.datetime) -> frozenset[int]:
        minute = now.replace(second=0, microsecond=0)
        if self._covered_at is None or self._covered_at[0] != minute:
            sites = frozenset(
                site_id
                for site_id in self.site_ids
                if site_id not in self.scenario.coverage
                or coverage.is_covered(
                    self.scenario.coverage[site_id].windows,
                    time_zone=self.scenario.coverage[site_id].time_zone,
                    at=now,
                )
            )
            self._covered_at = (minute, sites)
        return self._covered_at[1]

    def run(self) -> Outcome:
        for study in self.studies:
            self._at(study.arrival.ready_at, ARRIVE, study)
        for reader in self.readers.values():
            for shift in reader.facts.shifts:
                self._at(shift.starts_at, SHIFT_START, reader)
                self._at(shift.ends_at, SHIFT_END, reader)
        if self.studies:
            self._at(self.studies[0].arrival.ready_at, ESCALATE, None)
        last_arrival = self.studies[-1].arrival.ready_at if self.studies else None
        shift_ends = [s.ends_at for r in self.scenario.readers for s in r.shifts]
        horizon = max([*shift_ends, *([last_arrival] if last_arrival else [])], default=None)
        now = horizon or dt.datetime.now(dt.UTC)
        while self.events:
            now, kind, _seq, payload = heapq.heappop(self.events)
            if kind == ARRIVE:
                assert isinstance(payload, _Study)
                self._arrive(payload, now)
            elif kind == FINISH:
                assert isinstance(payload, _Reader)
                self._finish(payload, now)
            elif kind == SHIFT_START:
                assert isinstance(payload, _Reader)
                self._shift_start(payload, now)
            elif kind == SHIFT_END:
                assert isinstance(payload, _Reader)
                self._shift_end(payload, now)
            elif kind == ESCALATE:
                self._escalate(now)
                if horizon is not None and now < horizon:
                    self._at(now + self.scenario.escalate_every, ESCALATE, None)
        return self._outcome(horizon or now)

    # Events

    def _arrive(self, study: _Study, now: dt.datetime) -> None:
        self.pool[study.arrival.id] = study
        if self.scenario.push:
            self._route(study, now)
        self._offer_free_readers(now, study.arrival.worklist_id)

    def _finish(self, reader: _Reader, now: dt.datetime) -> None:
        assert reader.reading is not None
        reader.reading.final_at = now
        reader.reading = None
        reader.changed()
        self._next_for(reader, now)

    def _shift_start(self, reader: _Reader, now: dt.datetime) -> None:
        self.on_shift.add(reader.facts.id)
        if not any(s.starts_at < now for s in reader.facts.active_shifts(now)):
            reader.shift_units = Decimal("0")  # a new shift, not one running on from another
        reader.changed()
        reader.scope_key = None
        self._next_for(reader, now)

    def _shift_end(self, reader: _Reader, now: dt.datetime) -> None:
        reader.scope_key = None
        if reader.on_shift(now):
            return
        self.on_shift.discard(reader.facts.id)
        returned, reader.queue = reader.queue, []
        reader.changed()
        for study in returned:
            study.reader_id = study.assigned_at = None
            self.pool[study.arrival.id] = study
        for study in returned:
            if self.scenario.push:
                self._route(study, now, exclude=frozenset({reader.facts.id}))

    def _escalate(self, now: dt.datetime) -> None:
        policy = self.scenario.escalation
        for study in list(self.pool.values()):
            a = study.arrival
            if a.deadline is None or (study.next_check is not None and now < study.next_check):
                continue
            study.next_check = _next_change(a, now, policy)
            tier = routing.escalation_tier(
                ready_at=a.ready_at, deadline=a.deadline, now=now, policy=policy
            )
            rank = routing.aged_rank(
                base_rank=a.routing_rank, ready_at=a.ready_at, now=now, policy=policy
            )
            if tier <= study.tier and rank >= study.rank:
                continue
            raised = tier > study.tier
            study.tier = max(study.tier, tier)
            study.rank = min(study.rank, rank)
            study.pull_facts = None
            if raised and self.scenario.push:
                self._route(study, now)
            if study.arrival.id in self.pool:
                # A wider tier or a higher rank: a free reader may take it now.
                self._offer_free_readers(now, a.worklist_id)

    # Decisions, by the production rules

    def _route(
        self, study: _Study, now: dt.datetime, exclude: frozenset[int] = frozenset()
    ) -> None:
        if study.arrival.id not in self.pool:
            return  # taken meanwhile (a reader given another study pulled this one)
        wanted = self.competent.get(study.arrival.worklist_id, set())
        candidates = [self.readers[rid].live_facts(now) for rid in sorted(wanted & self.on_shift)]
        facts = study.facts(self.covered(now))
        # decide's choice without its trace, which a replay never stores.
        chosen = routing.choose(
            facts, candidates, now=now, policy=self.scenario.policy, exclude_ids=exclude
        )
        if chosen is None:
            return
        reader = self.readers[chosen.reader_id]
        self._assign(study, reader, now)
        if reader.reading is None:
            self._next_for(reader, now)

    def _assign(self, study: _Study, reader: _Reader, now: dt.datetime) -> None:
        del self.pool[study.arrival.id]
        study.reader_id = reader.facts.id
        study.assigned_at = now
        reader.queue.append(study)
        reader.shift_units += study.arrival.work_units
        reader.changed()

    def _scope(self, reader: _Reader, now: dt.datetime) -> routing.Scope:
        covered = self.covered(now)
        if reader.scope is not None and reader.scope_key is not None:
            key_covered, until = reader.scope_key
            if key_covered == covered and (until is None or now < until):
                return reader.scope
        reader.scope = routing.reader_scope(
            reader.facts, now=now, site_ids=self.site_ids, covered_site_ids=covered
        )
        reader.scope_key = (covered, routing.facts_change_by_clock(reader.facts, now=now))
        reader.scope_worklists = frozenset(
            w for pairs in reader.scope.pairs_by_tier for w, _site in pairs
        )
        return reader.scope

    def _next_for(self, reader: _Reader, now: dt.datetime) -> None:
        """A free reader on shift presses "read next"."""
        if reader.reading is not None or not reader.on_shift(now):
            return
        scope = self._scope(reader, now)
        worklists = reader.scope_worklists
        free = [
            s.facts_for_pull() for s in self.pool.values() if s.arrival.worklist_id in worklists
        ]
        held = [s.facts_for_pull() for s in reader.queue]
        chosen = routing.read_next(free, held=held, scope=scope)
        if chosen is None:
            return
        if chosen.from_queue:
            study = next(s for s in reader.queue if s.arrival.id == chosen.study.id)
        else:
            study = self.pool[chosen.study.id]
            self._assign(study, reader, now)
        reader.queue.remove(study)
        reader.reading = study
        reader.changed()
        study.opened_at = now
        minutes = self.scenario.reading_times.draw(reader.facts.id, study.arrival, self.rng)
        self._at(now + dt.timedelta(minutes=minutes), FINISH, reader)

    def _offer_free_readers(self, now: dt.datetime, worklist_id: int) -> None:
        for reader_id in sorted(self.competent.get(worklist_id, set()) & self.on_shift):
            reader = self.readers[reader_id]
            if reader.reading is None:
                self._next_for(reader, now)

    def _outcome(self, horizon: dt.datetime) -> Outcome:
        reads = [
            Read(
                study_id=s.arrival.id,
                priority=s.arrival.priority,
                work_units=s.arrival.work_units,
                ready_at=s.arrival.ready_at,
                deadline=s.arrival.deadline,
                reader_id=s.reader_id,
                assigned_at=s.assigned_at,
                opened_at=s.opened_at,
                final_at=s.final_at,
                tier=s.tier,
            )
            for s in self.studies
        ]
        starts = self.studies[0].arrival.ready_at if self.studies else horizon
        return Outcome(
            name=self.scenario.name,
            reads=reads,
            horizon=horizon,
            queue_depth=hourly_queue_depth(reads, starts_at=starts, ends_at=horizon),
            reader_names={r.id: r.name for r in self.scenario.readers},
        )


def _next_change(
    arrival: Arrival, now: dt.datetime, policy: routing.EscalationPolicy
) -> dt.datetime:
    """The first moment after ``now`` at which the study's tier or reading rank could change
    (escalation is still asked then, so this only saves asking in between)."""
    assert arrival.deadline is not None
    span = arrival.deadline - arrival.ready_at
    moments = [
        arrival.ready_at + span * share
        for share in (policy.backup_at, policy.pool_at, policy.alert_at)
        if arrival.ready_at + span * share > now
    ]
    waited = (now - arrival.ready_at) // policy.max_wait
    moments.append(arrival.ready_at + policy.max_wait * (waited + 1))
    return min(moments)


def replay(scenario: Scenario) -> Outcome:
    """Replay ``scenario`` in simulated time; nothing is written anywhere."""
    return Replay(scenario).run()
