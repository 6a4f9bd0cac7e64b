"""Routing benchmark: push decisions and "read next" claims against one hand-written statement
("read next" over HTTP is benchmarks/bench_http.py).

Sets up its own data in the throw-away database: 500 radiologists on shift, 20,000 unread
studies. Figures, not assertions; PostgreSQL in earnest (the claim statement is PostgreSQL's).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import psycopg
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.utils import timezone

from worklists.actors import Actor
from worklists.models import (
    Assignment,
    Competence,
    Credential,
    Patient,
    Radiologist,
    Shift,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
    Worklist,
)
from worklists.prepared import enable_explicit_prepare
from worklists.services.claims import study_claim_next
from worklists.services.routing import forget_coverage_cache, study_route

ROOT = Path(__file__).resolve().parent.parent
RADIOLOGISTS = int(os.environ.get("BENCH_RADIOLOGISTS", "500"))
UNREAD = int(os.environ.get("BENCH_UNREAD", "20000"))
DECISIONS = int(os.environ.get("BENCH_DECISIONS", "300"))
CLAIM_THREADS = 16
CLAIMS_PER_THREAD = int(os.environ.get("BENCH_CLAIMS_PER_THREAD", "300"))
CLAIM_ROUNDS = int(os.environ.get("BENCH_CLAIM_ROUNDS", "5"))
# Each round's threads open new connections, and PostgreSQL plans a prepared statement afresh
# for its first five runs on a connection before it keeps one plan. So each thread first makes
# this many claims unmeasured, the service and the raw statement alike: the figures are the
# steady state of a server whose connections live on (a pool), not of connections being opened.
WARM_UP_CLAIMS = 6
SITES = 12
WORKLISTS = ("neuro", "msk", "thorax", "abdomen", "mamma", "emergency")
MODALITIES = ["CT", "MR", "DX", "US", "MG"]

# The reference: the same claim as one hand-written statement, autocommit, nothing else.
RAW_CLAIM = """
UPDATE worklists_study SET status = 'ASSIGNED', status_changed_at = now(), updated_at = now()
WHERE id = (
    SELECT id FROM worklists_study
    WHERE status = 'READY' AND worklist_id = ANY(%s) AND site_id = ANY(%s)
    ORDER BY routing_rank, deadline, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


def populate(
    rng: random.Random, *, prefix: str = "rb", hpr_base: int = 8000000
) -> tuple[list[Radiologist], list[Site], list[Worklist]]:
    """``prefix`` and ``hpr_base`` keep another section's copy (bench_queries) apart in the same
    throw-away database."""
    now = timezone.now()
    sites = [
        Site.objects.create(
            code=f"{prefix}{i}",
            name=f"Rutesjukehus {prefix} {i}",
            hl7_sending_facility=f"{prefix.upper()}{i}",
        )
        for i in range(SITES)
    ]
    worklists = [
        Worklist.objects.get_or_create(code=f"rb-{c}", defaults={"name": c})[0] for c in WORKLISTS
    ]
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"{prefix}-reader{i}", first_name="Rad", last_name=f"{i:03d}")
        for i in range(RADIOLOGISTS)
    )
    readers = Radiologist.objects.bulk_create(
        Radiologist(
            user=u,
            hpr_number=f"{hpr_base + i}",
            modalities=rng.sample(MODALITIES, k=rng.randint(2, 5)),
            # working now: an idle reader receives no pushes (ROUTING_PUSH_IDLE_MINUTES)
            last_active_at=now,
        )
        for i, u in enumerate(users)
    )
    competences, credentials, shifts = [], [], []
    for reader in readers:
        for worklist in rng.sample(worklists, k=rng.randint(1, 3)):
            level = "PRIMARY" if rng.random() < 0.8 else "BACKUP"
            competences.append(Competence(radiologist=reader, worklist=worklist, level=level))
        for site in rng.sample(sites, k=rng.randint(3, 8)):
            credentials.append(
                Credential(radiologist=reader, site=site, valid_from=dt.date(2024, 1, 1))
            )
        shifts.append(
            Shift(
                radiologist=reader,
                starts_at=now - dt.timedelta(hours=2),
                ends_at=now + dt.timedelta(hours=8),
                role="PRIMARY" if rng.random() < 0.85 else "BACKUP",
                target_work_units=Decimal(rng.choice([20, 30, 40])),
                started_at=now - dt.timedelta(hours=2),
            )
        )
    Competence.objects.bulk_create(competences)
    Credential.objects.bulk_create(credentials)
    Shift.objects.bulk_create(shifts)
    patients = Patient.objects.bulk_create(
        Patient(family_name=f"Rute{i}", birth_date=dt.date(1950, 1, 1)) for i in range(UNREAD)
    )
    priorities = ["STAT"] * 5 + ["URGENT"] * 15 + ["CANCER_PATHWAY"] * 10 + ["ROUTINE"] * 70
    ranks = {"STAT": 0, "URGENT": 1, "CANCER_PATHWAY": 2, "ROUTINE": 3}
    batch = []
    for i, patient in enumerate(patients):
        priority = rng.choice(priorities)
        ready_at = now - dt.timedelta(minutes=rng.randrange(1, 600))
        batch.append(
            Study(
                site=rng.choice(sites),
                accession_number=f"RB{i}",
                # one in ten patients has two unread studies (bundling)
                patient=patients[i - 1] if i % 10 == 9 else patient,
                modality=rng.choice(MODALITIES),
                procedure_text="Benchmark",
                priority=priority,
                routing_rank=ranks[priority],
                ordered_at=ready_at,
                ready_at=ready_at,
                deadline=ready_at + dt.timedelta(minutes=rng.choice([60, 360, 2880, 10080])),
                worklist=rng.choice(worklists),
                work_units=Decimal(rng.choice(["0.5", "1.0", "1.5", "3.0"])),
                status=StudyStatus.READY,
                status_changed_at=ready_at,
            )
        )
    Study.objects.bulk_create(batch, batch_size=5000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return readers, sites, worklists


def broad_readers(
    count: int, prefix: str, sites: list[Site], worklists: list[Worklist], *, hpr_base: int
) -> list[Radiologist]:
    """Readers who may read everything: the claim benchmarks measure the claim, not scarcity.
    ``hpr_base`` keeps each section's readers' HPR numbers apart (unique in the database)."""
    now = timezone.now()
    made = []
    for i in range(count):
        user = get_user_model().objects.create(username=f"{prefix}{i}")
        reader = Radiologist.objects.create(
            user=user, hpr_number=f"{hpr_base + i}", modalities=MODALITIES
        )
        Competence.objects.bulk_create(
            Competence(radiologist=reader, worklist=w) for w in worklists
        )
        Credential.objects.bulk_create(
            Credential(radiologist=reader, site=s, valid_from=dt.date(2024, 1, 1)) for s in sites
        )
        Shift.objects.create(
            radiologist=reader,
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=9),
            started_at=now,
        )
        made.append(reader)
    return made


def open_for_reading(study_ids: list[int]) -> None:
    """The reader opens what they got, as the reading page does (read next would otherwise give
    the same unopened study again): the same one statement after each claim of both loops."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE worklists_study SET status = 'IN_PROGRESS' WHERE id = ANY(%s)", [study_ids]
        )


def reset_claims() -> None:
    """Put every claimed study back, so each phase starts from the same pool."""
    claimed = Assignment.objects.filter(kind=Assignment.Kind.PULL).values("study_id")
    StudyEvent.objects.filter(study_id__in=claimed).delete()
    Study.objects.filter(id__in=claimed).update(status=StudyStatus.READY)
    Assignment.objects.filter(kind=Assignment.Kind.PULL).delete()
    Study.objects.filter(status=StudyStatus.ASSIGNED, assignments__isnull=True).update(
        status=StudyStatus.READY
    )
    if connection.vendor == "postgresql":
        # Each round claims the same studies again: without a vacuum their deleted
        # assignments stay in the unique index of active assignments, and every later claim of
        # the study checks them all (a state no live system reaches).
        with connection.cursor() as cursor:
            cursor.execute(
                "VACUUM ANALYZE worklists_study, worklists_assignment, worklists_studyevent"
            )


def bench_decisions(rng: random.Random, sites: list[Site]) -> dict[str, float]:
    # This section's own studies: in a full `make bench` the database also holds other
    # sections' unread studies, whose sites have nobody on shift.
    ids = list(
        Study.objects.filter(status=StudyStatus.READY, site__in=sites).values_list("id", flat=True)
    )
    sample = rng.sample(ids, k=min(DECISIONS, len(ids)))
    timings = []
    assigned = 0
    start = time.perf_counter()
    for study_id in sample:
        t0 = time.perf_counter()
        decision = study_route(study_id=study_id, trigger="bench")
        timings.append((time.perf_counter() - t0) * 1000)
        assigned += bool(decision and decision.radiologist_id)
    elapsed = time.perf_counter() - start
    return {
        "routing_radiologists": float(RADIOLOGISTS),
        "routing_unread_studies": float(UNREAD),
        "routing_decisions_per_s": len(sample) / elapsed,
        "routing_p50_ms": statistics.median(timings),
        "routing_p95_ms": p(timings, 95),
        "routing_assigned_share": assigned / len(sample),
    }


def run_threads(
    workers: list[Callable[[], int]], *, warm_ups: list[Callable[[], object]] | None = None
) -> tuple[int, float, list[BaseException]]:
    """Run ``workers`` at once, each on a thread of its own; each one's ``warm_ups`` entry
    runs on its thread first, outside the time measured."""
    barrier = threading.Barrier(len(workers) + 1)
    counts: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def wrap(work: Callable[[], int], warm_up: Callable[[], object] | None) -> None:
        try:
            if warm_up is not None:
                warm_up()
            barrier.wait()
            done = work()
            with lock:
                counts.append(done)
        except threading.BrokenBarrierError:
            pass  # another thread failed before the start: its error is the one reported
        except BaseException as exc:  # reported with the figures
            errors.append(exc)
            barrier.abort()  # a thread that never reaches the barrier must not hang the others
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=wrap, args=(work, warm_ups[i] if warm_ups else None))
        for i, work in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return sum(counts), time.perf_counter() - start, errors


def bench_claims(
    readers: list[Radiologist], sites: list[Site], worklists: list[Worklist]
) -> dict[str, float]:
    def service(reader: Radiologist, claims: int = CLAIMS_PER_THREAD) -> Callable[[], int]:
        actor = Actor(user_id=reader.user_id, label=reader.user.username)

        def work() -> int:
            done = 0
            for _ in range(claims):
                claimed = study_claim_next(radiologist_id=reader.id, actor=actor)
                if claimed is not None:
                    done += 1
                    open_for_reading(claimed.study_ids)
            return done

        return work

    site_ids = [s.id for s in sites]
    worklist_ids = [w.id for w in worklists]

    def raw(claims: int = CLAIMS_PER_THREAD) -> Callable[[], int]:
        def work() -> int:
            # Prepared on the server, as the service's statement is: the fairest reference.
            done = 0
            connection.ensure_connection()
            enable_explicit_prepare(connection.connection)
            with psycopg.Cursor(connection.connection) as cursor:
                for _ in range(claims):
                    cursor.execute(RAW_CLAIM, [worklist_ids, site_ids], prepare=True)
                    row = cursor.fetchone()
                    if row is not None:
                        done += 1
                        open_for_reading([row[0]])
            return done

        return work

    # Rounds of the service then the raw statement, side by side in time: on a machine whose
    # load changes, each ratio compares two runs seconds apart; the medians are reported.
    service_rates: list[float] = []
    raw_rates: list[float] = []
    errors: list[BaseException] = []
    for _ in range(CLAIM_ROUNDS):
        reset_claims()
        claims, elapsed, round_errors = run_threads(
            [service(r) for r in readers],
            warm_ups=[service(r, claims=WARM_UP_CLAIMS) for r in readers],
        )
        service_rates.append(claims / elapsed)
        errors += round_errors
        reset_claims()
        raw_claims, raw_elapsed, round_errors = run_threads(
            [raw() for _ in readers], warm_ups=[raw(claims=WARM_UP_CLAIMS) for _ in readers]
        )
        raw_rates.append(raw_claims / raw_elapsed)
        errors += round_errors
    reset_claims()
    if errors:
        print(f"claim errors: {errors[:3]!r}", file=sys.stderr)
    return {
        "claims_concurrency": float(len(readers)),
        "claims_rounds": float(CLAIM_ROUNDS),
        "claims_per_s": statistics.median(service_rates),
        "raw_sql_claims_per_s": statistics.median(raw_rates),
        "claim_ratio": statistics.median(
            s / r for s, r in zip(service_rates, raw_rates, strict=True)
        ),
        "claim_errors": float(len(errors)),
    }


def run(rng: random.Random) -> dict[str, float]:
    forget_coverage_cache()
    start = time.perf_counter()
    _readers, sites, worklists = populate(rng)
    print(f"routing: populated in {time.perf_counter() - start:.1f} s", flush=True)
    figures = bench_decisions(rng, sites)
    claimers = broad_readers(CLAIM_THREADS, "rb-claim", sites, worklists, hpr_base=7100000)
    figures.update(bench_claims(claimers, sites, worklists))
    reset_claims()
    return figures
