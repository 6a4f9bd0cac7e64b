"""Live updates over Redis: how long a committed study change takes to reach a browser's socket.

A real uvicorn serves the Channels consumer (``/ws/worklist/``) on the throw-away database with
the Redis channel layer; CLIENTS WebSocket clients (a coordinator's session: they hear every
site) wait in an event loop of this process. The main thread commits real changes, one at a time
(``study_cancel``, a coordinator cancelling a READY study), each stamped by an ``on_commit`` hook
registered before the service's own. The delay is the time from that stamp to the arrival at
each client (the same clock: both sides are this process): p50 and p95 over every client and
change. The broadcast path is the product's own: the committing process's ``LiveBroadcaster``
(``LIVE_BATCH_SECONDS`` as configured), ``group_send``, the server's consumer, the socket.

Measured for both channels-redis layers (core and PubSub), then BURST clients connect at once
(errors counted, and whether each hears the next change). The yardstick, in the same run: a bare
``websockets`` server fed by Redis PUBLISH (benchmarks/live_bare_server.py), the same commits
and clients; ``live_ratio_p95`` is the Channels p95 over the bare one. Needs REDIS_URL; without
it the section reports nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from channels.layers import channel_layers as layer_registry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.utils import timezone
from websockets.asyncio.client import ClientConnection, connect

from benchmarks.bench_http import free_port, start_server, stop_server
from teleradiology import channel_layers
from worklists.access import COORDINATORS_GROUP
from worklists.actors import Actor
from worklists.models import Patient, Site, Study, StudyStatus, Worklist
from worklists.services.studies import study_cancel

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = int(os.environ.get("BENCH_LIVE_CLIENTS", "200"))
BURST = int(os.environ.get("BENCH_LIVE_BURST", "500"))
CHANGES = int(os.environ.get("BENCH_LIVE_CHANGES", "20"))
# Between two changes: each is measured alone, not batched with the next.
GAP_S = 0.25
ARRIVAL_TIMEOUT_S = 10.0
BARE_CHANNEL = "bench.live.bare"


def percentile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=100)[q - 1]


def populate(changes: int) -> tuple[str, list[int]]:
    """A coordinator's session cookie and ``changes`` READY studies to cancel."""
    now = timezone.now()
    site = Site.objects.create(code="lv0", name="Live-sjukehus", hl7_sending_facility="LV0")
    worklist = Worklist.objects.get_or_create(code="lv-neuro", defaults={"name": "lv"})[0]
    user = get_user_model().objects.create(username="lv-coordinator")
    user.groups.add(Group.objects.get_or_create(name=COORDINATORS_GROUP)[0])
    patients = Patient.objects.bulk_create(
        Patient(family_name=f"Live{i}", birth_date=dt.date(1960, 1, 1)) for i in range(changes)
    )
    studies = Study.objects.bulk_create(
        Study(
            site=site,
            accession_number=f"LV{i}",
            patient=patient,
            modality="CT",
            procedure_text="Live benchmark",
            priority="ROUTINE",
            routing_rank=3,
            ordered_at=now,
            ready_at=now,
            deadline=now + dt.timedelta(hours=6),
            worklist=worklist,
            work_units=Decimal("1.0"),
            status=StudyStatus.READY,
            status_changed_at=now,
        )
        for i, patient in enumerate(patients)
    )
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}", [s.id for s in studies]


def use_layer(kind: str) -> None:
    """This process sends on ``kind`` too (the broadcaster asks the registry for the layer)."""
    settings.CHANNEL_LAYERS = channel_layers.redis_channel_layers(
        settings.REDIS_URL, kind=kind, pool_size=channel_layers.DEFAULT_POOL_SIZE
    )
    layer_registry.backends.clear()


class Listeners:
    """``count`` WebSocket clients in an event loop of their own thread; the arrival time of
    every message, by study id."""

    def __init__(self, url: str, count: int, headers: dict[str, str]) -> None:
        self.url = url
        self.count = count
        self.headers = headers
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self.connect_ms: list[float] = []
        self.errors: list[str] = []
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Listeners:
        self._thread.start()
        if not self.connected.wait(timeout=120):
            raise RuntimeError(f"{self.count} clients did not connect within 120 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        # Every client at once: the burst is the point when count is large.
        sockets = await asyncio.gather(*(self._open() for _ in range(self.count)))
        live = [s for s in sockets if s is not None]
        readers = [asyncio.create_task(self._listen(s)) for s in live]
        self.connected.set()
        await self._stop.wait()
        for socket in live:
            await socket.close()
        await asyncio.gather(*readers, return_exceptions=True)

    async def _open(self) -> ClientConnection | None:
        t0 = time.perf_counter()
        try:
            socket = await connect(
                self.url, additional_headers=self.headers, open_timeout=60, max_queue=None
            )
        except Exception as exc:  # counted and reported: the burst's figure
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            return None
        with self._lock:
            self.connect_ms.append((time.perf_counter() - t0) * 1000)
        return socket

    async def _listen(self, socket: ClientConnection) -> None:
        async for raw in socket:
            arrived = time.perf_counter()
            message = json.loads(raw)
            study_id = message.get("study_id")
            if isinstance(study_id, int):
                with self._lock:
                    self.arrivals[study_id].append(arrived)

    def heard(self, study_id: int) -> int:
        with self._lock:
            return len(self.arrivals.get(study_id, []))

    def wait_for(self, study_ids: list[int], expected: int) -> None:
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
        while time.monotonic() < deadline:
            if all(self.heard(s) >= expected for s in study_ids):
                return
            time.sleep(0.05)


def commit_changes(study_ids: list[int], after_commit: Callable[[int], None]) -> dict[int, float]:
    """Cancel each study in a transaction of its own; the commit time of each, by study id.
    ``after_commit`` runs after the stamp (the bare run's publish)."""
    actor = Actor.system("bench live")
    committed: dict[int, float] = {}
    for study_id in study_ids:

        def stamp(study_id: int = study_id) -> None:
            committed[study_id] = time.perf_counter()
            after_commit(study_id)

        with transaction.atomic():
            transaction.on_commit(stamp)  # first: before the service's own hooks
            study_cancel(study_id=study_id, actor=actor, reason="live benchmark")
        time.sleep(GAP_S)
    return committed


def delays_ms(listeners: Listeners, committed: dict[int, float]) -> tuple[list[float], int]:
    listeners.wait_for(list(committed), listeners.count - len(listeners.errors))
    delays: list[float] = []
    missing = 0
    expected = listeners.count - len(listeners.errors)
    for study_id, at in committed.items():
        heard = listeners.arrivals.get(study_id, [])
        delays += [(t - at) * 1000 for t in heard]
        missing += max(0, expected - len(heard))
    return delays, missing


def measure_channels(kind: str, cookie: str, studies: list[int]) -> dict[str, float]:
    use_layer(kind)
    port = free_port()
    server = start_server(port, workers=1, extra_env={"CHANNEL_LAYER_KIND": kind})
    url = f"ws://127.0.0.1:{port}/ws/worklist/"
    headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
    figures: dict[str, float] = {}
    try:
        with Listeners(url, CLIENTS, headers) as listeners:
            committed = commit_changes(studies[:CHANGES], lambda _id: None)
            delays, missing = delays_ms(listeners, committed)
        figures[f"live_{kind}_p50_ms"] = percentile(delays, 50)
        figures[f"live_{kind}_p95_ms"] = percentile(delays, 95)
        figures[f"live_{kind}_missing"] = float(missing + len(listeners.errors) * CHANGES)
        with Listeners(url, BURST, headers) as burst:
            committed = commit_changes(studies[CHANGES : CHANGES + 1], lambda _id: None)
            _, burst_missing = delays_ms(burst, committed)
        figures[f"live_{kind}_burst_errors"] = float(len(burst.errors))
        figures[f"live_{kind}_burst_not_heard"] = float(burst_missing)
        figures[f"live_{kind}_burst_connect_p95_ms"] = percentile(burst.connect_ms, 95)
        if burst.errors:
            print(f"  {kind}: {len(burst.errors)} connect errors, e.g. {burst.errors[0]}")
    finally:
        stop_server(server)
    print(
        f"  {kind}: p50 {figures[f'live_{kind}_p50_ms']:.1f} ms, "
        f"p95 {figures[f'live_{kind}_p95_ms']:.1f} ms over {CLIENTS} clients",
        flush=True,
    )
    return figures


def measure_bare(cookie: str, studies: list[int]) -> dict[str, float]:
    port = free_port()
    script = str(ROOT / "benchmarks" / "live_bare_server.py")
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and script, fixed args)
        [sys.executable, script, str(port), settings.REDIS_URL, BARE_CHANNEL],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    publisher = redis.Redis.from_url(settings.REDIS_URL)
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"listening":
            raise RuntimeError("the bare websockets server did not start")

        def publish(study_id: int) -> None:
            publisher.publish(BARE_CHANNEL, json.dumps({"study_id": study_id}))

        with Listeners(f"ws://127.0.0.1:{port}/", CLIENTS, {"Cookie": cookie}) as listeners:
            committed = commit_changes(studies, publish)
            delays, missing = delays_ms(listeners, committed)
    finally:
        server.terminate()
        server.wait(timeout=30)
        publisher.close()
    print(f"  bare websockets: p50 {percentile(delays, 50):.1f} ms", flush=True)
    return {
        "live_bare_p50_ms": percentile(delays, 50),
        "live_bare_p95_ms": percentile(delays, 95),
        "live_bare_missing": float(missing),
    }


def run(rng: Any) -> dict[str, float]:
    if not settings.REDIS_URL:
        print("  skipped: the Redis channel layer needs REDIS_URL", flush=True)
        return {}
    kinds = ("core", "pubsub")
    per_kind = CHANGES + 1
    cookie, studies = populate(per_kind * len(kinds) + CHANGES)
    figures: dict[str, float] = {"live_clients": float(CLIENTS), "live_burst": float(BURST)}
    for i, kind in enumerate(kinds):
        figures.update(measure_channels(kind, cookie, studies[i * per_kind : (i + 1) * per_kind]))
    use_layer(channel_layers.DEFAULT_KIND)
    figures.update(measure_bare(cookie, studies[len(kinds) * per_kind :]))
    default = channel_layers.DEFAULT_KIND
    figures["live_p95_ms"] = figures[f"live_{default}_p95_ms"]
    figures["live_ratio_p95"] = figures["live_p95_ms"] / figures["live_bare_p95_ms"]
    return figures
