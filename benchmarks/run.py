"""`make bench`: measured figures, written to benchmarks/results/latest.json and printed beside
the committed baseline (benchmarks/results/baseline.json) and their targets (benchmarks/figures.py).

Runs against a throw-away database next to the one DATABASE_URL names, called ``bench_<its name>``
(PostgreSQL in earnest; SQLite works for a smoke run). Figures, not assertions: tests assert
behaviour. BENCH_WRITE_BASELINE=1 makes this run the new baseline (BENCH_MACHINE_NOTE says what
else the machine was doing). See docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import random
import sqlite3
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "teleradiology.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks import figures as kept  # noqa: E402
from worklists import nin, selectors  # noqa: E402
from worklists.actors import Actor  # noqa: E402
from worklists.models import (  # noqa: E402
    UNREAD_STATUSES,
    Credential,
    Patient,
    PatientIdentifier,
    Radiologist,
    Site,
    Study,
    StudyStatus,
    Worklist,
)
from worklists.services.orders import (  # noqa: E402
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
    order_apply,
)

STUDIES = int(os.environ.get("BENCH_STUDIES", "200000"))
SITES = 10
PAGE_SIZE = 50
REPEATS = int(os.environ.get("BENCH_REPEATS", "50"))
ORDERS = int(os.environ.get("BENCH_ORDERS", "500"))
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
BASELINE = ROOT / "benchmarks" / "results" / "baseline.json"
# Not sizes: everything else BENCH_* is recorded with a baseline (its figures only compare with
# runs of the same sizes).
NOT_SIZES = ("BENCH_WRITE_BASELINE", "BENCH_MACHINE_NOTE", "BENCH_HTTP_PROFILE", "BENCH_KEEP_DB")
# BENCH_KEEP_DB=1: the throw-away database is kept after the run and used again by the next run
# with it (migrated forward, not created afresh); sections that find their data there do not
# write it again. Seeding 1,000,000 studies for the indicators takes about 20 minutes: seed once,
# measure many times.
KEEP_DB = os.environ.get("BENCH_KEEP_DB") == "1"


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def populate(rng: random.Random) -> tuple[Radiologist, list[Site]]:
    sites = [
        Site.objects.create(code=f"bench{i}", name=f"Benchmark sjukehus {i}") for i in range(SITES)
    ]
    worklists = [
        Worklist.objects.create(code=f"bench-{c}", name=c) for c in ("neuro", "msk", "thorax")
    ]
    user = get_user_model().objects.create_user("bench-reader", password="x")  # noqa: S106
    reader = Radiologist.objects.create(user=user, hpr_number="9999999", modalities=["CT"])
    for site in sites[: SITES // 2]:
        Credential.objects.create(radiologist=reader, site=site, valid_from=dt.date(2020, 1, 1))
    now = timezone.now()
    batch = 5000
    for offset in range(0, STUDIES, batch):
        count = min(batch, STUDIES - offset)
        patients = Patient.objects.bulk_create(
            Patient(family_name=f"Bench{offset + i}", birth_date=dt.date(1960, 1, 1))
            for i in range(count)
        )
        PatientIdentifier.objects.bulk_create(
            PatientIdentifier(patient=p, kind="MR", authority="bench", value=f"B{offset + i}")
            for i, p in enumerate(patients)
        )
        Study.objects.bulk_create(
            Study(
                site=sites[rng.randrange(SITES)],
                accession_number=f"BENCH{offset + i}",
                patient=p,
                modality="CT",
                procedure_text="CT caput",
                ordered_at=now,
                ready_at=now,
                deadline=now + dt.timedelta(minutes=rng.randrange(1, 20000)),
                worklist=worklists[rng.randrange(len(worklists))],
                work_units=Decimal("1.00"),
                # Most of a real table is signed; the worklists read the unread rest.
                status=StudyStatus.READY if rng.random() < 0.3 else StudyStatus.FINAL,
                status_changed_at=now,
            )
            for i, p in enumerate(patients)
        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    return reader, sites


def bench_lists(reader: Radiologist) -> dict[str, float]:
    user = reader.user
    filters = {"status": "READY"}
    first = timed(
        lambda: selectors.study_list(user=user, filters=filters, page_size=PAGE_SIZE), REPEATS
    )
    # A cursor deep in the list: the position of the study 90% of the way down.
    visible = selectors.studies_visible_to(user).filter(status="READY").order_by("deadline", "id")
    depth = int(visible.count() * 0.9)
    deep_row = visible[depth]
    cursor = selectors.Cursor(deadline=deep_row.deadline, id=deep_row.id)
    deep = timed(
        lambda: selectors.study_list(
            user=user, filters=filters, cursor=cursor, page_size=PAGE_SIZE
        ),
        REPEATS,
    )
    offset = timed(lambda: list(visible[depth : depth + PAGE_SIZE]), REPEATS)
    unread = {"worklist": "bench-neuro", "status": ",".join(UNREAD_STATUSES)}
    worklist_page = timed(
        lambda: selectors.study_list(user=user, filters=unread, page_size=PAGE_SIZE), REPEATS
    )
    return {
        "studies_total": float(STUDIES),
        "list_depth_rows": float(depth),
        "list_first_page_p50_ms": statistics.median(first),
        "list_first_page_p95_ms": p95(first),
        "list_deep_page_keyset_p50_ms": statistics.median(deep),
        "list_deep_page_keyset_p95_ms": p95(deep),
        "list_deep_page_offset_p50_ms": statistics.median(offset),
        "list_deep_over_first_ratio": statistics.median(deep) / statistics.median(first),
        "list_offset_over_keyset_ratio": statistics.median(offset) / statistics.median(deep),
        "worklist_unread_page_p50_ms": statistics.median(worklist_page),
        "worklist_unread_page_p95_ms": p95(worklist_page),
    }


def bench_orders(site: Site, rng: random.Random) -> dict[str, float]:
    now = timezone.now()
    orders = [
        OrderInput(
            accession_number=f"ORD{i}",
            action=OrderAction.NEW,
            images_available=True,
            patient=PatientInput(
                identifiers=(
                    IdentifierInput(
                        kind="FNR",
                        value=nin.synthetic_number(
                            dt.date(1940, 1, 1) + dt.timedelta(days=i * 7), rng=rng
                        ),
                        authority="NO-FREG",
                    ),
                ),
                family_name="Ødegård",
            ),
            study=StudyInput(modality="CT", procedure_text="CT caput", ordered_at=now),
        )
        for i in range(ORDERS)
    ]
    actor = Actor.for_site(site.code)
    start = time.perf_counter()
    for order in orders:
        order_apply(site_id=site.id, order=order, actor=actor)
    elapsed = time.perf_counter() - start
    return {"orders_applied_per_s": ORDERS / elapsed}


# Sections: `lists` and `orders` live here; every `benchmarks/bench_<name>.py` module adds a section
# `<name>` with `def run(rng: random.Random) -> dict[str, float]` that sets up its own data in the
# throw-away database. BENCH_ONLY=name,name runs a subset.


def discovered_sections() -> dict[str, Callable[[random.Random], dict[str, float]]]:
    sections: dict[str, Callable[[random.Random], dict[str, float]]] = {}
    for path in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        module = importlib.import_module(f"benchmarks.{path.stem}")
        sections[path.stem.removeprefix("bench_")] = module.run
    return sections


def use_own_throwaway_database() -> str:
    """Name the throw-away database after the one DATABASE_URL names, with a prefix of its own:
    engineers with their own DATABASE_URL never share it, and the test suite's ``test_<name>``
    is never this run's. An SQLite one is a file, so the HTTP section's server process sees it."""
    db = settings.DATABASES["default"]
    name = str(db["NAME"])
    if connection.vendor == "sqlite":
        stem = Path(name).stem if name != ":memory:" else "memory"
        throwaway = str(settings.VAR_DIR / f"bench_{stem}.sqlite3")
        if not KEEP_DB:
            Path(throwaway).unlink(missing_ok=True)
    else:
        throwaway = f"bench_{name}"
    db.setdefault("TEST", {})["NAME"] = throwaway
    return throwaway


def database_version() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    return f"SQLite {sqlite3.sqlite_version}"


def main() -> None:
    rng = random.Random(42)
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    throwaway = use_own_throwaway_database()
    print(
        f"database: {connection.vendor} ({throwaway}{', kept' if KEEP_DB else ''}); "
        f"{STUDIES} studies; {REPEATS} repeats",
        flush=True,
    )
    started = time.perf_counter()
    # No serialized copy of the contents (that is for TestCase's rollback emulation): a kept
    # database holds millions of rows.
    old_config = setup_databases(
        verbosity=0, interactive=False, keepdb=KEEP_DB, serialized_aliases=set()
    )
    try:
        version = database_version()
        figures = {"database_is_postgresql": float(connection.vendor == "postgresql")}
        if not only or only & {"lists", "orders"}:
            start = time.perf_counter()
            reader, sites = populate(rng)
            print(f"populated in {time.perf_counter() - start:.1f} s", flush=True)
            if not only or "lists" in only:
                figures.update(bench_lists(reader))
            if not only or "orders" in only:
                figures.update(bench_orders(sites[0], rng))
        for name, run in discovered_sections().items():
            if only and name not in only:
                continue
            print(f"section {name}", flush=True)
            section_start = time.perf_counter()
            try:
                figures.update(run(random.Random(42)))
                figures[f"{name}_section_failed"] = 0.0
            except Exception:  # one section's failure must not lose the others' figures
                traceback.print_exc()
                figures[f"{name}_section_failed"] = 1.0
            print(f"section {name}: {time.perf_counter() - section_start:.0f} s", flush=True)
    finally:
        teardown_databases(old_config, verbosity=0, keepdb=KEEP_DB)
    figures["bench_wall_clock_s"] = time.perf_counter() - started
    figures = {k: round(v, 3) for k, v in figures.items()}

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    baseline, machine = kept.load_baseline(BASELINE)
    print()
    if machine:
        print(
            f"baseline: {machine.get('date')} on {machine.get('cpu_model')}, "
            f"{machine.get('cores')} cores, {machine.get('database')}; {machine.get('note')}"
        )
    else:
        print(f"no baseline yet ({BASELINE.relative_to(ROOT)})")
    for line in kept.format_rows(kept.compare(figures, baseline, kept.TARGETS)):
        print(f"  {line}")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    if os.environ.get("BENCH_WRITE_BASELINE") == "1":
        kept.write_baseline(
            BASELINE,
            figures=figures,
            machine=kept.machine_description(
                database_version=version, note=os.environ.get("BENCH_MACHINE_NOTE", "")
            ),
            settings={
                k: v for k, v in os.environ.items() if k.startswith("BENCH_") and k not in NOT_SIZES
            },
        )
        print(f"written to {BASELINE.relative_to(ROOT)} as the new baseline")


if __name__ == "__main__":
    main()
