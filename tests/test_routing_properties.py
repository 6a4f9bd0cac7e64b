"""Properties of worklists.routing, over generated readers and studies (hypothesis)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from worklists import routing
from worklists.routing import (
    BACKUP,
    PRIMARY,
    CredentialFacts,
    Policy,
    ReaderFacts,
    ShiftFacts,
    StudyFacts,
)

NOW = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)  # the night Norway goes to summer time
WORKLISTS = [1, 2, 3]
SITES = [10, 20, 30]
MODALITIES = ["CT", "MR", "DX"]
POLICY = Policy(queue_cap_work_units=Decimal("6"))

hours = st.integers(min_value=-30, max_value=30).map(lambda h: NOW + dt.timedelta(hours=h))
work_units = st.sampled_from([Decimal("0.5"), Decimal("1"), Decimal("1.5"), Decimal("3")])


@st.composite
def shifts(draw: st.DrawFn) -> ShiftFacts:
    start = draw(hours)
    return ShiftFacts(
        id=draw(st.integers(1, 10_000)),
        starts_at=start,
        ends_at=start + dt.timedelta(hours=draw(st.integers(1, 14))),
        role=draw(st.sampled_from([PRIMARY, BACKUP])),
        worklist_ids=draw(st.none() | st.frozensets(st.sampled_from(WORKLISTS), min_size=1)),
        site_ids=draw(st.none() | st.frozensets(st.sampled_from(SITES), min_size=1)),
        target_work_units=draw(st.sampled_from([Decimal("0"), Decimal("10"), Decimal("30")])),
        carried_deficit=draw(st.sampled_from([Decimal("0"), Decimal("3")])),
    )


@st.composite
def credentials(draw: st.DrawFn) -> CredentialFacts:
    start = NOW.date() + dt.timedelta(days=draw(st.integers(-400, 3)))
    return CredentialFacts(
        site_id=draw(st.sampled_from(SITES)),
        time_zone=draw(st.sampled_from(["Europe/Oslo", "UTC", "America/New_York"])),
        valid_from=start,
        valid_until=draw(st.none() | st.just(start + dt.timedelta(days=draw(st.integers(0, 500))))),
        revoked=draw(st.booleans()),
    )


@st.composite
def readers(draw: st.DrawFn, reader_id: int | None = None) -> ReaderFacts:
    return ReaderFacts(
        id=reader_id if reader_id is not None else draw(st.integers(1, 10_000)),
        name="r",
        modalities=draw(st.frozensets(st.sampled_from(MODALITIES))),
        competences=draw(
            st.dictionaries(st.sampled_from(WORKLISTS), st.sampled_from([PRIMARY, BACKUP]))
        ),
        credentials=tuple(draw(st.lists(credentials(), max_size=3))),
        shifts=tuple(draw(st.lists(shifts(), max_size=3))),
        is_active=draw(st.booleans()),
        member_site_ids=draw(st.frozensets(st.sampled_from(SITES), max_size=1)),
        queue_work_units=draw(st.sampled_from([Decimal("0"), Decimal("2"), Decimal("5.5")])),
        stat_held=draw(st.integers(0, 3)),
        shift_work_units=draw(st.sampled_from([Decimal("0"), Decimal("4"), Decimal("12")])),
        held_patient_ids=draw(st.frozensets(st.integers(1, 5), max_size=2)),
    )


@st.composite
def studies(draw: st.DrawFn, study_id: int | None = None) -> StudyFacts:
    priority = draw(st.sampled_from(["STAT", "URGENT", "CANCER_PATHWAY", "ROUTINE"]))
    base = {"STAT": 0, "URGENT": 1, "CANCER_PATHWAY": 2, "ROUTINE": 3}[priority]
    ready = draw(hours)
    return StudyFacts(
        id=study_id if study_id is not None else draw(st.integers(1, 100_000)),
        site_id=draw(st.sampled_from(SITES)),
        worklist_id=draw(st.sampled_from(WORKLISTS)),
        modality=draw(st.sampled_from(MODALITIES)),
        priority=priority,
        # escalation may bump a study up, never to the top step of STAT and critical findings
        routing_rank=base if base <= 1 else draw(st.integers(1, base)),
        deadline=ready + dt.timedelta(hours=draw(st.integers(1, 200))),
        ready_at=ready,
        patient_id=draw(st.integers(1, 5)),
        work_units=draw(work_units),
        site_covered=draw(st.booleans()),
        escalation_tier=draw(st.integers(0, 3)),
    )


def breaks_a_hard_rule(reader: ReaderFacts, study: StudyFacts) -> str | None:
    """The hard rules of the issue, written out again here from plain facts and independent of
    worklists.routing, for the rules that hold at every escalation tier."""
    if not reader.is_active:
        return "inactive"
    if study.worklist_id not in reader.competences:
        return "not competent"
    if study.modality not in reader.modalities:
        return "modality"
    credential_ok = False
    for credential in reader.credentials:
        local_day = NOW.astimezone(zoneinfo.ZoneInfo(credential.time_zone)).date()
        if (
            credential.site_id == study.site_id
            and not credential.revoked
            and credential.valid_from <= local_day
            and (credential.valid_until is None or local_day <= credential.valid_until)
        ):
            credential_ok = True
    if not credential_ok:
        return "no valid credential today"
    if not any(shift.starts_at <= NOW < shift.ends_at for shift in reader.shifts):
        return "not on shift"
    if not study.site_covered and study.site_id not in reader.member_site_ids:
        return "outside coverage, not the site's own reader"
    cap_waived = study.priority == "STAT" or study.routing_rank == 0
    if (
        not cap_waived
        and reader.queue_work_units > 0
        and reader.queue_work_units + study.work_units > POLICY.queue_cap_work_units
    ):
        return "queue full"
    return None


@settings(max_examples=300, deadline=None)
@given(study=studies(), pool=st.lists(readers(), max_size=8, unique_by=lambda r: r.id))
def test_never_an_ineligible_reader(study: StudyFacts, pool: list[ReaderFacts]) -> None:
    decision = routing.decide(study, pool, now=NOW, policy=POLICY)
    for candidate in decision.eligible:
        reader = next(r for r in pool if r.id == candidate.reader_id)
        assert breaks_a_hard_rule(reader, study) is None
        assert (
            routing.exclusion_reason(
                reader, study, now=NOW, policy=POLICY, tier=study.escalation_tier
            )
            is None
        )
    assert {c.reader_id for c in decision.eligible} | {e.reader_id for e in decision.excluded} == {
        r.id for r in pool
    }
    if decision.chosen is not None:
        assert decision.chosen.score == max(c.score for c in decision.eligible)


@settings(max_examples=200, deadline=None)
@given(reader=readers(), study=studies())
def test_what_read_next_may_take_is_exactly_what_the_rules_allow(
    reader: ReaderFacts, study: StudyFacts
) -> None:
    """The pull scope (also compiled into the claim statement) agrees with the hard filters."""
    scope = routing.reader_scope(
        reader,
        now=NOW,
        site_ids=SITES,
        covered_site_ids=frozenset(SITES)
        if study.site_covered
        else frozenset(SITES) - {study.site_id},
    )
    allowed = (
        routing.exclusion_reason(
            reader,
            study,
            now=NOW,
            policy=POLICY,
            tier=min(study.escalation_tier, routing.TIER_POOL),
            apply_cap=False,
        )
        is None
    )
    assert scope.allows(study) == allowed


@settings(max_examples=200, deadline=None)
@given(
    reader=readers(reader_id=1),
    stat=studies(study_id=1),
    routine=studies(study_id=2),
    others=st.lists(studies(), max_size=6),
)
def test_a_stat_study_is_ranked_before_a_routine_one_for_the_same_reader(
    reader: ReaderFacts, stat: StudyFacts, routine: StudyFacts, others: list[StudyFacts]
) -> None:
    stat = replace(stat, priority="STAT", routing_rank=0)
    routine = replace(routine, priority="ROUTINE", routing_rank=max(1, routine.routing_rank))
    assert routing.reading_order(stat) < routing.reading_order(routine)
    pool = [stat, routine, *(replace(s, id=s.id + 10) for s in others)]
    scope = routing.reader_scope(reader, now=NOW, site_ids=SITES, covered_site_ids=frozenset(SITES))
    picked = routing.read_next(pool, held=[], scope=scope)
    if scope.allows(stat):
        assert picked is not None
        assert picked.study.routing_rank == 0
        assert picked.study.id != routine.id


@settings(max_examples=300, deadline=None)
@given(
    reader=readers(reader_id=1),
    pool=st.lists(studies(), max_size=8),
    queue=st.lists(studies(), max_size=4),
)
def test_read_next_never_passes_over_a_more_urgent_study_in_the_queue_or_the_pool(
    reader: ReaderFacts, pool: list[StudyFacts], queue: list[StudyFacts]
) -> None:
    pool = [replace(s, id=100 + i) for i, s in enumerate(pool)]
    queue = [replace(s, id=200 + i) for i, s in enumerate(queue)]
    scope = routing.reader_scope(reader, now=NOW, site_ids=SITES, covered_site_ids=frozenset(SITES))
    picked = routing.read_next(pool, held=queue, scope=scope)
    readable = queue + [s for s in pool if scope.allows(s)]
    if not readable:
        assert picked is None
        return
    assert picked is not None
    assert picked.from_queue == (picked.study in queue)
    assert all(routing.reading_order(picked.study) <= routing.reading_order(s) for s in readable)
    # a STAT (or critical) study waiting in the queue is read before any routine study
    if any(s.routing_rank == 0 for s in queue):
        assert picked.study.routing_rank == 0


@settings(max_examples=50, deadline=None)
@given(
    reader_count=st.integers(2, 12),
    units=st.lists(work_units, min_size=10, max_size=200),
    target=st.sampled_from([Decimal("0"), Decimal("25")]),
)
def test_over_a_shift_work_units_per_reader_stay_within_one_study_of_each_other(
    reader_count: int, units: list[Decimal], target: Decimal
) -> None:
    """Stated band: with equally eligible readers, the most and least loaded reader differ by
    at most the largest single study's work units at every point of the shift."""
    base = ReaderFacts(
        id=0,
        name="r",
        modalities=frozenset({"CT"}),
        competences={1: PRIMARY},
        credentials=(CredentialFacts(10, "Europe/Oslo", dt.date(2020, 1, 1), None),),
        shifts=(
            ShiftFacts(
                1,
                NOW - dt.timedelta(hours=1),
                NOW + dt.timedelta(hours=8),
                target_work_units=target,
            ),
        ),
    )
    pool = {i: replace(base, id=i) for i in range(1, reader_count + 1)}
    policy = Policy(queue_cap_work_units=Decimal("100000"))
    for n, wu in enumerate(units):
        study = StudyFacts(
            id=n,
            site_id=10,
            worklist_id=1,
            modality="CT",
            priority="ROUTINE",
            routing_rank=3,
            deadline=NOW + dt.timedelta(hours=10),
            ready_at=NOW,
            patient_id=1000 + n,
            work_units=wu,
        )
        decision = routing.decide(study, pool.values(), now=NOW, policy=policy)
        assert decision.chosen is not None
        chosen = pool[decision.chosen.reader_id]
        pool[chosen.id] = replace(
            chosen,
            shift_work_units=chosen.shift_work_units + wu,
            queue_work_units=chosen.queue_work_units + wu,
        )
        loads = [r.shift_work_units for r in pool.values()]
        assert max(loads) - min(loads) <= max(units[: n + 1])


def test_the_independent_rules_and_decide_agree_on_a_reader_who_meets_every_rule() -> None:
    reader = ReaderFacts(
        id=1,
        name="r",
        modalities=frozenset({"CT"}),
        competences={1: PRIMARY},
        credentials=(
            CredentialFacts(
                site_id=10,
                time_zone="Europe/Oslo",
                valid_from=NOW.date() - dt.timedelta(days=30),
                valid_until=None,
                revoked=False,
            ),
        ),
        shifts=(
            ShiftFacts(
                id=1,
                starts_at=NOW - dt.timedelta(hours=2),
                ends_at=NOW + dt.timedelta(hours=8),
                role=PRIMARY,
                worklist_ids=None,
                site_ids=None,
                target_work_units=Decimal("10"),
                carried_deficit=Decimal("0"),
            ),
        ),
        is_active=True,
        member_site_ids=frozenset(),
        queue_work_units=Decimal("0"),
        stat_held=0,
        shift_work_units=Decimal("0"),
        held_patient_ids=frozenset(),
    )
    study = StudyFacts(
        id=1,
        site_id=10,
        worklist_id=1,
        modality="CT",
        priority="ROUTINE",
        routing_rank=3,
        deadline=NOW + dt.timedelta(hours=24),
        ready_at=NOW - dt.timedelta(hours=1),
        patient_id=1,
        work_units=Decimal("1"),
    )
    revoked = replace(reader, id=2, credentials=(replace(reader.credentials[0], revoked=True),))

    decision = routing.decide(study, [reader, revoked], now=NOW, policy=POLICY)

    assert breaks_a_hard_rule(reader, study) is None
    assert breaks_a_hard_rule(revoked, study) == "no valid credential today"
    assert decision.chosen is not None
    assert decision.chosen.reader_id == 1
    assert [e.reader_id for e in decision.excluded] == [2]


@settings(max_examples=300, deadline=None)
@given(
    reader=readers(),
    covered=st.frozensets(st.sampled_from(SITES)),
    minutes=st.integers(min_value=1, max_value=60 * 24 * 3),
)
def test_a_pull_scope_holds_until_the_clock_changes_the_readers_facts(reader, covered, minutes):
    # the same reader, a while later: up to just before the change the scope is the same, and
    # the change itself is a moment at which some shift or credential flips
    later = NOW + dt.timedelta(minutes=minutes)
    change = routing.facts_change_by_clock(reader, now=NOW)
    sites = {c.site_id for c in reader.credentials}

    def scope_at(at: dt.datetime) -> routing.Scope:
        return routing.reader_scope(reader, now=at, site_ids=sites, covered_site_ids=covered)

    if change is None or later < change:
        assert scope_at(later) == scope_at(NOW)
    if change is not None:
        assert change > NOW
        just_before = change - dt.timedelta(microseconds=1)
        flips = [s.active_at(just_before) != s.active_at(change) for s in reader.shifts] + [
            c.valid_at(just_before) != c.valid_at(change) for c in reader.credentials
        ]
        assert any(flips)


@settings(max_examples=400, deadline=None)
@given(
    study=studies(),
    pool=st.lists(readers(), max_size=8, unique_by=lambda r: r.id),
    tier=st.none() | st.integers(0, 3),
    excluded_share=st.integers(0, 3),
    minutes=st.integers(min_value=-60 * 30, max_value=60 * 30),
)
def test_choose_picks_the_reader_decide_ranks_first(study, pool, tier, excluded_share, minutes):
    # choose is decide without the trace (the planner's replay): for any readers, tier, readers
    # passed over and moment it must name the same reader with the same score and components.
    now = NOW + dt.timedelta(minutes=minutes)
    exclude = frozenset(r.id for r in pool[:excluded_share])
    plain = routing.decide(study, pool, now=now, policy=POLICY, tier=tier, exclude_ids=exclude)
    fast = routing.choose(study, pool, now=now, policy=POLICY, tier=tier, exclude_ids=exclude)
    assert fast == plain.chosen


def test_choose_breaks_a_tie_of_scores_by_the_lowest_reader_id_as_decide_does() -> None:
    on_shift = ShiftFacts(
        id=1, starts_at=NOW - dt.timedelta(hours=1), ends_at=NOW + dt.timedelta(hours=7)
    )
    credential = CredentialFacts(10, "Europe/Oslo", NOW.date() - dt.timedelta(days=1), None)
    twins = [
        ReaderFacts(
            id=reader_id,
            name=f"r{reader_id}",
            modalities=frozenset({"CT"}),
            competences={1: PRIMARY},
            credentials=(credential,),
            shifts=(on_shift,),
        )
        for reader_id in (7, 3, 5)
    ]
    study = StudyFacts(
        id=1,
        site_id=10,
        worklist_id=1,
        modality="CT",
        priority="ROUTINE",
        routing_rank=3,
        deadline=NOW + dt.timedelta(hours=24),
        ready_at=NOW,
        patient_id=1,
        work_units=Decimal("1"),
    )

    decision = routing.decide(study, twins, now=NOW, policy=POLICY)
    chosen = routing.choose(study, twins, now=NOW, policy=POLICY)
    without_3 = routing.choose(study, twins, now=NOW, policy=POLICY, exclude_ids=frozenset({3}))

    assert len({c.score for c in decision.eligible}) == 1
    assert chosen == decision.chosen
    assert chosen is not None
    assert chosen.reader_id == 3
    assert without_3 is not None
    assert without_3.reader_id == 5
