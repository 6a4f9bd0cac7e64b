"""The capacity planner's replay (worklists.planner.simulate) on tiny hand-made histories whose
queue and turnaround are worked out by hand: push, pull, queue caps, escalation tiers, coverage
windows, and nothing written to the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from worklists import coverage, routing
from worklists.planner.simulate import Arrival, ReadingTimes, Scenario, SiteCoverage, replay

UTC = dt.UTC
SITE = 1
NEURO = 10
MONDAY = dt.date(2026, 6, 1)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(MONDAY, dt.time(hour, minute), tzinfo=UTC)


def reader(
    reader_id: int, starts: dt.datetime, ends: dt.datetime, level: str = routing.PRIMARY
) -> routing.ReaderFacts:
    return routing.ReaderFacts(
        id=reader_id,
        name=f"reader {reader_id}",
        modalities=frozenset({"CT"}),
        competences={NEURO: level},
        credentials=(routing.CredentialFacts(SITE, "Europe/Oslo", dt.date(2026, 1, 1), None),),
        shifts=(routing.ShiftFacts(id=reader_id, starts_at=starts, ends_at=ends),),
    )


def arrival(
    study_id: int,
    ready_at: dt.datetime,
    priority: str = "ROUTINE",
    *,
    deadline: dt.datetime | None = None,
) -> Arrival:
    return Arrival(
        id=study_id,
        site_id=SITE,
        worklist_id=NEURO,
        modality="CT",
        priority=priority,
        routing_rank={"STAT": 0, "URGENT": 1, "CANCER_PATHWAY": 2, "ROUTINE": 3}[priority],
        work_units=Decimal("1"),
        patient_id=100 + study_id,
        ready_at=ready_at,
        deadline=deadline or ready_at + dt.timedelta(hours=24),
        procedure_code="CT-HEAD",
    )


# Every read takes exactly 20 minutes: each reader's own history of the procedure.
TWENTY_MINUTES = ReadingTimes(
    by_reader_procedure={(1, "CT-HEAD"): [20.0], (2, "CT-HEAD"): [20.0]},
    per_work_unit_by_reader={},
    per_work_unit=[20.0],
)
ESCALATION = routing.EscalationPolicy(
    backup_at=0.5, pool_at=0.75, alert_at=0.9, max_wait=dt.timedelta(hours=24)
)
THREE = [arrival(1, at(8, 50)), arrival(2, at(8, 55)), arrival(3, at(9), "STAT")]


def scenario(readers, arrivals=THREE, *, cap: str = "6", push: bool = True, **kw) -> Scenario:
    return Scenario(
        name="test",
        arrivals=arrivals,
        readers=readers,
        reading_times=TWENTY_MINUTES,
        policy=routing.Policy(queue_cap_work_units=Decimal(cap)),
        escalation=ESCALATION,
        push=push,
        **kw,
    )


def turnaround(outcome) -> dict[int, float | None]:
    return {r.study_id: r.turnaround_minutes for r in outcome.reads}


def test_one_reader_reads_the_stat_before_the_routine_study_pushed_to_them_earlier(
    db, django_assert_num_queries
):
    with django_assert_num_queries(0):
        outcome = replay(scenario([reader(1, at(8), at(12))]))
    # 08:50 study 1 is pushed and opened; 08:55 study 2 and 09:00 the STAT join the queue;
    # 09:10 the STAT is next (09:10-09:30), then study 2 (09:30-09:50).
    assert turnaround(outcome) == {1: 20.0, 2: 55.0, 3: 30.0}
    assert outcome.queue_depth == [(at(9), 2), (at(10), 0), (at(11), 0), (at(12), 0)]
    assert outcome.work_units_by_reader() == {1: Decimal("3")}
    assert all(r.reader_id == 1 for r in outcome.reads)


def test_push_fills_the_busy_readers_queue_where_pull_leaves_it_for_the_next_reader_free():
    readers = [reader(1, at(8), at(12)), reader(2, at(9), at(12))]
    pushed = replay(scenario(readers, push=True))
    # Push: study 2 goes to reader 1's queue at 08:55 (within the cap), the STAT at 09:00 too
    # (reader 2 starts at 09:00, after it arrived); reader 2 finds nothing to read.
    assert turnaround(pushed) == {1: 20.0, 2: 55.0, 3: 30.0}
    assert pushed.work_units_by_reader() == {1: Decimal("3")}
    pulled = replay(scenario(readers, push=False))
    # Pull: both wait in the pool; reader 2 starts at 09:00 and takes the STAT first, reader 1
    # takes study 2 when free at 09:10.
    assert turnaround(pulled) == {1: 20.0, 2: 35.0, 3: 20.0}
    assert {r.study_id: r.reader_id for r in pulled.reads} == {1: 1, 2: 1, 3: 2}
    assert pulled.queue_depth[0] == (at(9), 1)


def test_the_queue_cap_keeps_a_routine_study_for_the_next_reader_but_not_a_stat():
    readers = [reader(1, at(8), at(12)), reader(2, at(9), at(12))]
    outcome = replay(scenario(readers, cap="1.5"))
    # Reader 1 holds one work unit at 08:55: study 2 would pass the cap of 1.5 and waits in the
    # pool; the STAT waives the cap and goes to reader 1; reader 2 starts at 09:00 with study 2.
    assert {r.study_id: r.reader_id for r in outcome.reads} == {1: 1, 2: 2, 3: 1}
    assert turnaround(outcome) == {1: 20.0, 2: 25.0, 3: 30.0}


def test_a_study_only_a_backup_reader_may_read_waits_for_the_backup_tier():
    backup_only = [reader(2, at(8), at(12), level=routing.BACKUP)]
    study = arrival(1, at(8), deadline=at(10))
    outcome = replay(scenario(backup_only, [study]))
    (read,) = outcome.reads
    # Half of the two hours to the deadline used at 09:00: tier 1, backups too.
    assert read.tier == routing.TIER_BACKUP
    assert read.opened_at == at(9)
    assert read.turnaround_minutes == 80.0
    assert not read.missed(outcome.horizon)


def test_a_study_nobody_may_read_before_its_deadline_counts_as_missed():
    outcome = replay(scenario([reader(1, at(8), at(9))], [arrival(1, at(8, 50))]))
    late = replay(scenario([reader(1, at(8), at(9))], [arrival(2, at(9, 30), deadline=at(10))]))
    assert turnaround(outcome) == {1: 20.0}
    (unread,) = late.reads
    assert unread.final_at is None
    assert unread.missed(dt.datetime(2026, 6, 2, tzinfo=UTC))


def test_outside_its_coverage_window_a_site_is_read_by_its_own_readers_only():
    # Weekdays 15:00-08:00 Oslo time: at 09:00 UTC (11:00 in Oslo) the site reads its own.
    windows = tuple(coverage.Window(day, dt.time(15), dt.time(8)) for day in range(5))
    member = routing.ReaderFacts(
        **{
            **{f: getattr(reader(2, at(8), at(12)), f) for f in routing.ReaderFacts.__slots__},
            "member_site_ids": frozenset({SITE}),
        }
    )
    readers = [reader(1, at(8), at(12)), member]
    outcome = replay(
        scenario(
            readers,
            [arrival(1, at(9))],
            coverage={SITE: SiteCoverage("Europe/Oslo", windows)},
        )
    )
    assert {r.study_id: r.reader_id for r in outcome.reads} == {1: 2}
