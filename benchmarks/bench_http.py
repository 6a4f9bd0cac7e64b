"""HTTP benchmark: "read next" over HTTP beside a bare authenticated call, same server, same run.

A real uvicorn (as in production, `DATABASE_POOL_MAX_SIZE` per worker process) serves the
throw-away database; 32 radiologists, each with a personal token and a keep-alive connection of
their own, press "Read next" (POST /api/v1/worklist/next) and, in alternating rounds, ask who they
are (GET /api/v1/me: the same authentication and pool, nothing else). The ratio of the two
throughputs is what the HTTP edge, the claim and its audit add to an authenticated call.

The clients are threads of this process (http.client, about as cheap as a client gets), so the
2-core machine's cores go to the server; the figures say how many processes ran and how much CPU
the client process used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.utils import timezone

from worklists.models import (
    Competence,
    Credential,
    Patient,
    Radiologist,
    Shift,
    Site,
    Study,
    StudyStatus,
    Worklist,
)
from worklists.services.tokens import personal_token_issue

ROOT = Path(__file__).resolve().parent.parent
READERS = 32
STUDIES = int(os.environ.get("BENCH_HTTP_STUDIES", "20000"))
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
REQUESTS_PER_READER = int(os.environ.get("BENCH_HTTP_PER_THREAD", "25"))
# Each reader's first requests of each kind are unmeasured: the pool's connections are opened
# and PostgreSQL has planned the prepared statements by then (a server that has been up a while).
WARM_UP_REQUESTS = 6
SERVER_PROCESSES = int(os.environ.get("BENCH_HTTP_WORKERS", "2"))
# The server's connection pool per worker process, as recommended for the ASGI server.
POOL_MAX_SIZE = int(os.environ.get("BENCH_HTTP_POOL_MAX_SIZE", "8"))
SITES = 6
WORKLISTS = ("neuro", "msk", "thorax", "abdomen")
MODALITIES = ["CT", "MR", "DX", "US", "MG"]
# BENCH_HTTP_PROFILE=path: py-spy (`pip install py-spy`) samples the server's worker processes
# during the measured rounds (after the warm-up) and writes their collapsed stacks to that file;
# the figures of such a run include its overhead.
PROFILE = os.environ.get("BENCH_HTTP_PROFILE", "")
NEXT = ("POST", "/api/v1/worklist/next")
ME = ("GET", "/api/v1/me")


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


def populate(rng: random.Random) -> list[str]:
    """Sites, worklists, READY studies and 32 readers on shift who may read all of them; the
    readers' personal tokens."""
    now = timezone.now()
    sites = [
        Site.objects.create(code=f"hb{i}", name=f"HTTP-sjukehus {i}", hl7_sending_facility=f"HB{i}")
        for i in range(SITES)
    ]
    worklists = [
        Worklist.objects.get_or_create(code=f"hb-{c}", defaults={"name": c})[0] for c in WORKLISTS
    ]
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"hb-reader{i}", first_name="Rad", last_name=f"{i:02d}")
        for i in range(READERS)
    )
    readers = Radiologist.objects.bulk_create(
        Radiologist(user=u, hpr_number=f"{6000000 + i}", modalities=MODALITIES)
        for i, u in enumerate(users)
    )
    Competence.objects.bulk_create(
        Competence(radiologist=r, worklist=w) for r in readers for w in worklists
    )
    Credential.objects.bulk_create(
        Credential(radiologist=r, site=s, valid_from=dt.date(2024, 1, 1))
        for r in readers
        for s in sites
    )
    Shift.objects.bulk_create(
        Shift(
            radiologist=r,
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=9),
            started_at=now - dt.timedelta(hours=1),
            target_work_units=Decimal(1000),
        )
        for r in readers
    )
    patients = Patient.objects.bulk_create(
        (Patient(family_name=f"Http{i}", birth_date=dt.date(1950, 1, 1)) for i in range(STUDIES)),
        batch_size=5000,
    )
    priorities = ["STAT"] * 5 + ["URGENT"] * 15 + ["CANCER_PATHWAY"] * 10 + ["ROUTINE"] * 70
    ranks = {"STAT": 0, "URGENT": 1, "CANCER_PATHWAY": 2, "ROUTINE": 3}
    studies = []
    for i, patient in enumerate(patients):
        priority = rng.choice(priorities)
        ready_at = now - dt.timedelta(minutes=rng.randrange(1, 600))
        studies.append(
            Study(
                site=rng.choice(sites),
                accession_number=f"HB{i}",
                patient=patient,
                modality=rng.choice(MODALITIES),
                procedure_text="HTTP benchmark",
                priority=priority,
                routing_rank=ranks[priority],
                ordered_at=ready_at,
                ready_at=ready_at,
                deadline=ready_at + dt.timedelta(minutes=rng.choice([60, 360, 2880, 10080])),
                worklist=rng.choice(worklists),
                work_units=Decimal("1.0"),
                status=StudyStatus.READY,
                status_changed_at=ready_at,
            )
        )
    Study.objects.bulk_create(studies, batch_size=5000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return [personal_token_issue(user_id=r.user_id).key for r in readers]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    port: int, *, workers: int = SERVER_PROCESSES, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    db = settings.DATABASES["default"]
    if connection.vendor == "postgresql":
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATABASE_POOL_MAX_SIZE": str(POOL_MAX_SIZE),
        "LOG_LEVEL": "WARNING",
        # On a loaded machine a request may wait for a pooled connection longer than the
        # production default: the wait shows in the latencies instead of failing the run.
        "DATABASE_POOL_TIMEOUT_SECONDS": "60",
        **(extra_env or {}),
    }
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and module, fixed args)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "teleradiology.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        # A session of its own: stop_server ends every worker process with it, even when
        # uvicorn's supervisor goes first.
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError("uvicorn did not listen within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return  # every worker has exited and let go of its connections
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)


class Reader:
    """One radiologist's client: a keep-alive connection and a token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Content-Length": "0"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call_for_body(self, endpoint: tuple[str, str]) -> tuple[int, bytes]:
        method, path = endpoint
        try:
            self.conn.request(method, path, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            # The server closed a kept connection: reconnect once, as any client would.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, headers=self.headers)
            response = self.conn.getresponse()
        body = response.read()
        if response.status not in (200, 204):
            raise RuntimeError(f"{method} {path} answered {response.status}")
        return response.status, body


def open_for_reading(study_id: int) -> None:
    """The reader opens what read next gave them, as the reading page does: otherwise read next
    would give the same unopened study from their queue again. Written by the client's own
    connection, one short statement, so the server measures read next and nothing else."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE worklists_study SET status = 'IN_PROGRESS' WHERE id = %s", [study_id]
        )


class Phase:
    """Every reader calls one endpoint ``requests`` times at once; latencies and answers kept."""

    def __init__(self, readers: list[Reader], endpoint: tuple[str, str], requests: int) -> None:
        self.readers = readers
        self.endpoint = endpoint
        self.requests = requests
        self.latencies_ms: list[float] = []
        self.answered_200 = 0
        self.errors: list[BaseException] = []
        self.elapsed_s = 0.0
        self.client_cpu_s = 0.0
        self._lock = threading.Lock()

    def _work(self, reader: Reader, barrier: threading.Barrier) -> None:
        mine: list[float] = []
        ok = 0
        try:
            barrier.wait()
            for _ in range(self.requests):
                t0 = time.perf_counter()
                status, body = reader.call_for_body(self.endpoint)
                mine.append((time.perf_counter() - t0) * 1000)
                ok += status == 200
                if self.endpoint == NEXT and status == 200:
                    open_for_reading(json.loads(body)["study"]["id"])
        except threading.BrokenBarrierError:
            return
        except Exception as exc:  # reported with the figures, never hides a hang
            with self._lock:
                self.errors.append(exc)
        finally:
            connection.close()
        with self._lock:
            self.latencies_ms += mine
            self.answered_200 += ok

    def run(self) -> Phase:
        barrier = threading.Barrier(len(self.readers) + 1)
        threads = [
            threading.Thread(target=self._work, args=(r, barrier), daemon=True)
            for r in self.readers
        ]
        for thread in threads:
            thread.start()
        cpu0 = time.process_time()
        barrier.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        self.elapsed_s = time.perf_counter() - start
        self.client_cpu_s = time.process_time() - cpu0
        return self

    @property
    def per_s(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0


def start_profiler(server_pid: int) -> subprocess.Popen[bytes]:
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    command = [py_spy, "record", "--pid", str(server_pid), "--subprocesses", "--nonblocking"]
    command += ["--rate", "50", "--format", "raw", "-o", PROFILE]
    return subprocess.Popen(command)  # noqa: S603 (fixed arguments)


def measure(port: int, tokens: list[str], server_pid: int) -> dict[str, float]:
    readers = [Reader(port, token) for token in tokens]
    warm_me = Phase(readers, ME, WARM_UP_REQUESTS).run()
    warm_next = Phase(readers, NEXT, WARM_UP_REQUESTS).run()
    if warm_me.errors or warm_next.errors:
        raise RuntimeError(f"warm-up failed: {(warm_me.errors + warm_next.errors)[:3]!r}")
    # Rounds of the bare call then read next, side by side in time: on a machine whose load
    # changes, each ratio compares two phases seconds apart; the median ratio is reported.
    profiler = start_profiler(server_pid) if PROFILE else None
    me_phases: list[Phase] = []
    next_phases: list[Phase] = []
    for _ in range(ROUNDS):
        me_phases.append(Phase(readers, ME, REQUESTS_PER_READER).run())
        next_phases.append(Phase(readers, NEXT, REQUESTS_PER_READER).run())
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on an interrupt
        profiler.wait(timeout=120)
    for reader in readers:
        reader.conn.close()
    me_latencies = [ms for ph in me_phases for ms in ph.latencies_ms]
    next_latencies = [ms for ph in next_phases for ms in ph.latencies_ms]
    errors = {
        "me": [e for ph in me_phases for e in ph.errors],
        "next": [e for ph in next_phases for e in ph.errors],
    }
    for name, errs in errors.items():
        if errs:
            print(f"http {name} errors: {errs[:3]!r}", file=sys.stderr)
    phases = me_phases + next_phases
    measured_s = sum(ph.elapsed_s for ph in phases)
    return {
        "http_server_processes": float(SERVER_PROCESSES),
        "http_pool_max_size": float(POOL_MAX_SIZE),
        "http_client_processes": 1.0,
        "http_concurrency": float(len(readers)),
        "http_client_cpu_share": sum(ph.client_cpu_s for ph in phases) / measured_s,
        "http_me_per_s": statistics.median(ph.per_s for ph in me_phases),
        "http_me_p50_ms": statistics.median(me_latencies),
        "http_me_p99_ms": percentile(me_latencies, 99),
        "http_me_errors": float(len(errors["me"])),
        "http_next_per_s": statistics.median(ph.per_s for ph in next_phases),
        "http_next_p50_ms": statistics.median(next_latencies),
        "http_next_p99_ms": percentile(next_latencies, 99),
        "http_next_errors": float(len(errors["next"])),
        "http_next_claimed_share": sum(ph.answered_200 for ph in next_phases)
        / max(1, len(next_latencies)),
        "http_next_over_me_ratio": statistics.median(
            n.per_s / m.per_s for m, n in zip(me_phases, next_phases, strict=True)
        ),
    }


def run(rng: random.Random) -> dict[str, float]:
    start = time.perf_counter()
    tokens = populate(rng)
    print(f"http: populated in {time.perf_counter() - start:.1f} s", flush=True)
    # The server's processes open their own connections; this one must not hold locks or
    # idle in a transaction meanwhile.
    connections.close_all()
    port = free_port()
    server = start_server(port)
    try:
        print(
            f"http: uvicorn with {SERVER_PROCESSES} worker processes (pool {POOL_MAX_SIZE} each), "
            f"{READERS} client threads in 1 client process",
            flush=True,
        )
        return measure(port, tokens, server.pid)
    finally:
        stop_server(server)
