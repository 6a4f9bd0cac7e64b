"""Capacity planner benchmark: one month replayed at regional volume (about 7,000 studies a day,
150 readers) through the routing rules, with data generated in memory (the replay reads no
database), and the cost of the pure routing decision per study.

Figures, not assertions. BENCH_PLANNER_DAYS and BENCH_PLANNER_PER_DAY shrink it for a smoke run;
the month's figure (``planner_month_s``, the one with the target) is then a projection from the
days replayed, and the section says so.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from decimal import Decimal

from worklists import routing
from worklists.planner.simulate import Arrival, ReadingTimes, Scenario, replay

MONTH_DAYS = 30
DAYS = int(os.environ.get("BENCH_PLANNER_DAYS", str(MONTH_DAYS)))
PER_DAY = int(os.environ.get("BENCH_PLANNER_PER_DAY", "7000"))
READERS = int(os.environ.get("BENCH_PLANNER_READERS", "150"))
SITES = 20
WORKLISTS = list(range(1, 11))
MODALITIES = ("CT", "MR", "CR", "DX", "US")
PRIORITIES = (
    ("STAT", 0, 60),
    ("URGENT", 1, 240),
    ("CANCER_PATHWAY", 2, 2880),
    ("ROUTINE", 3, 7200),
)
PRIORITY_WEIGHTS = (5, 20, 10, 65)
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 9, 11, 11, 10, 9, 10, 10, 9, 7, 5, 4, 4, 3, 2, 2, 1)
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # a Monday
DECISIONS = 5000
DECISION_ROUND = 500


def _readers(rng: random.Random) -> list[routing.ReaderFacts]:
    credentials = tuple(
        routing.CredentialFacts(
            site_id=s, time_zone="Europe/Oslo", valid_from=dt.date(2020, 1, 1), valid_until=None
        )
        for s in range(1, SITES + 1)
    )
    readers = []
    for reader_id in range(1, READERS + 1):
        primary = rng.sample(WORKLISTS, 3)
        competences = dict.fromkeys(primary, routing.PRIMARY)
        competences[rng.choice([w for w in WORKLISTS if w not in primary])] = routing.BACKUP
        start_hour = rng.choices((7, 15, 23), weights=(60, 25, 15))[0]
        shifts = tuple(
            routing.ShiftFacts(
                id=reader_id * 1000 + day,
                starts_at=START + dt.timedelta(days=day, hours=start_hour),
                ends_at=START + dt.timedelta(days=day, hours=start_hour + 8),
                target_work_units=Decimal("60"),
            )
            for day in range(-1, DAYS + 3)
            if (day + reader_id) % 7 not in (0, 1)  # two days off a week
        )
        readers.append(
            routing.ReaderFacts(
                id=reader_id,
                name=f"reader {reader_id}",
                modalities=frozenset(MODALITIES),
                competences=competences,
                credentials=credentials,
                shifts=shifts,
            )
        )
    return readers


def _arrivals(rng: random.Random) -> list[Arrival]:
    arrivals: list[Arrival] = []
    for day in range(DAYS):
        for _ in range(PER_DAY):
            hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
            ready = START + dt.timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3600))
            priority, rank, minutes = rng.choices(PRIORITIES, weights=PRIORITY_WEIGHTS)[0]
            arrivals.append(
                Arrival(
                    id=len(arrivals) + 1,
                    site_id=rng.randint(1, SITES),
                    worklist_id=rng.choice(WORKLISTS),
                    modality=rng.choice(MODALITIES),
                    priority=priority,
                    routing_rank=rank,
                    work_units=Decimal(rng.choice(("0.40", "1.00", "1.20", "2.00"))),
                    patient_id=rng.randint(1, 2_000_000),
                    ready_at=ready,
                    deadline=ready + dt.timedelta(minutes=minutes),
                    procedure_code="",
                )
            )
    return arrivals


def run(rng: random.Random) -> dict[str, float]:
    readers = _readers(rng)
    arrivals = _arrivals(rng)
    scenario = Scenario(
        name="bench",
        arrivals=arrivals,
        readers=readers,
        reading_times=ReadingTimes(
            by_reader_procedure={},
            per_work_unit_by_reader={},
            per_work_unit=[rng.lognormvariate(1.6, 0.35) for _ in range(1000)],
        ),
        policy=routing.Policy(queue_cap_work_units=Decimal("6")),
        escalation=routing.EscalationPolicy(
            backup_at=0.5, pool_at=0.75, alert_at=0.9, max_wait=dt.timedelta(hours=24)
        ),
        escalate_every=dt.timedelta(minutes=1),
    )
    started = time.perf_counter()
    outcome = replay(scenario)
    replay_s = time.perf_counter() - started
    # The pure decision alone: one study against the readers on shift and competent in its
    # worklist at noon on a weekday, as the replay (and production's push) asks it.
    noon = START + dt.timedelta(days=2, hours=12)
    sample = rng.sample(arrivals, min(DECISIONS, len(arrivals)))
    on_shift = [r for r in readers if r.active_shifts(noon)]
    policy = scenario.policy
    candidates = {
        w: [
            r.__class__(
                **{
                    **{f: getattr(r, f) for f in r.__slots__},
                    "shifts": tuple(r.active_shifts(noon)),
                }
            )
            for r in on_shift
            if w in r.competences
        ]
        for w in WORKLISTS
    }
    studies = [
        routing.StudyFacts(
            id=arrival.id,
            site_id=arrival.site_id,
            worklist_id=arrival.worklist_id,
            modality=arrival.modality,
            priority=arrival.priority,
            routing_rank=arrival.routing_rank,
            deadline=arrival.deadline,
            ready_at=arrival.ready_at,
            patient_id=arrival.patient_id,
            work_units=arrival.work_units,
        )
        for arrival in sample
    ]
    # decide (production's push: the choice with its trace) and choose (the replay's: the same
    # choice without the trace), on the same studies and readers, in alternating rounds so that
    # a change of the shared machine's load falls on both; the median round of each.
    decide_rounds: list[float] = []
    choose_rounds: list[float] = []
    for round_start in range(0, len(studies), DECISION_ROUND):
        chunk = studies[round_start : round_start + DECISION_ROUND]
        for ask, rounds in ((routing.decide, decide_rounds), (routing.choose, choose_rounds)):
            started = time.perf_counter()
            for facts in chunk:
                ask(facts, candidates[facts.worklist_id], now=noon, policy=policy)
            rounds.append((time.perf_counter() - started) / len(chunk) * 1e6)
    decide_us = statistics.median(decide_rounds)
    choose_us = statistics.median(choose_rounds)
    signed = sum(1 for r in outcome.reads if r.final_at is not None)
    # The month: measured when a month was replayed, else scaled from the days replayed (the
    # replay's cost grows with the studies, about linearly at a steady daily volume).
    month_s = replay_s * MONTH_DAYS / DAYS
    projected = DAYS != MONTH_DAYS
    print(
        f"  planner: {DAYS} days x {PER_DAY} studies, {len(readers)} readers replayed in "
        f"{replay_s:.1f} s; a month ({MONTH_DAYS} days) "
        f"{'projected from them' if projected else 'measured'}: {month_s:.1f} s "
        f"(target under 120 s); routing decision per study: decide {decide_us:.0f} us, "
        f"choose (as the replay asks it) {choose_us:.0f} us",
        flush=True,
    )
    return {
        "planner_days": float(DAYS),
        "planner_studies": float(len(arrivals)),
        "planner_readers": float(len(readers)),
        "planner_replay_s": replay_s,
        "planner_month_s": month_s,
        "planner_month_projected": float(projected),
        "planner_replay_us_per_study": replay_s / max(len(arrivals), 1) * 1e6,
        "planner_signed_share": signed / max(len(arrivals), 1),
        "planner_decide_us": decide_us,
        "planner_choose_us": choose_us,
        "planner_decide_candidates": sum(len(c) for c in candidates.values()) / len(WORKLISTS),
    }
