"""HL7 section of `make bench`: orders ingested per second over MLLP (stored, applied, ACKed
after commit) next to a bare MLLP echo server, and ORU results delivered per second to a RIS.
First, without a database: the codec's work per message, ours against python-hl7's (the
measurement behind python-hl7 being a test-only oracle, see hl7_interface/codec.py).

The listener runs as its own process (`manage.py hl7_listener`, as in production) against the
throw-away database; the clients are asyncio connections in this process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import hl7
from django.db import connection, transaction
from django.utils import timezone

from demo_ris.orders import FAMILY_NAMES, GIVEN_NAMES, PROCEDURES, orm_o01, random_order
from demo_ris.receiver import ResultReceiver
from hl7_interface import mapping
from hl7_interface.codec import Message, Segment, Separators, parse, read_header
from hl7_interface.delivery import outbox_drain
from hl7_interface.listener import running_listener
from hl7_interface.mllp import Frame, FrameDecoder, frame
from hl7_interface.models import OutboundMessage, OutboundStatus, SiteHl7Config
from hl7_interface.outbox import ReportDelivery, ReportSection, outbox_enqueue_report
from hl7_interface.ris_messages import Destination, OrderData, PatientData, oru_r01
from hl7_interface.writer import Identity, build_ack
from worklists.models import (
    InboundMessage,
    Patient,
    PatientIdentifier,
    Site,
    Study,
    Worklist,
)

ROOT = Path(__file__).resolve().parent.parent
ORDERS = int(os.environ.get("BENCH_HL7_ORDERS", "4000"))
RESULTS = int(os.environ.get("BENCH_HL7_RESULTS", "2000"))
CONNECTIONS = 4
# Listener processes on the one port (SO_REUSEPORT), as production would run one per core.
PROCESSES = int(os.environ.get("BENCH_HL7_PROCESSES", str(os.cpu_count() or 1)))
# Threads per process. Each applies the frames waiting as one batch (group commit). With a
# batch's round trips pipelined, one worker per process makes the fullest batches and measured
# best here (the database on the same two cores: 489/512 orders/s against 398/424 for two
# workers, in alternating runs); a database across a network, whose waits more workers would
# overlap, may want more (HL7_WORKERS).
WORKERS = int(os.environ.get("BENCH_HL7_WORKERS", "1"))
FACILITY = "HL7BENCH"
CODEC_MESSAGES = int(os.environ.get("BENCH_HL7_CODEC_MESSAGES", "1000"))
CODEC_REPEATS = int(os.environ.get("BENCH_HL7_CODEC_REPEATS", "7"))
PATIENT_BASE = int(os.environ.get("BENCH_HL7_PATIENT_BASE", "50000"))

ECHO_SERVER = """
import asyncio, sys
from hl7_interface.mllp import Frame, FrameDecoder, frame

async def serve(reader, writer):
    decoder = FrameDecoder(1 << 20)
    while data := await reader.read(65536):
        for item in decoder.feed(data):
            if isinstance(item, Frame):
                writer.write(frame(item.payload))
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(f"echo on {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


async def _connection(port: int, messages: list[bytes], answers: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    decoder = FrameDecoder(1 << 20)
    try:
        for message in messages:
            writer.write(frame(message))
            await writer.drain()
            got: list[bytes] = []
            while not got:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("closed before the answer")
                got = [i.payload for i in decoder.feed(data) if isinstance(i, Frame)]
            answers.extend(got)
    finally:
        writer.close()


def drive(port: int, messages: list[bytes]) -> tuple[float, list[bytes]]:
    """Send ``messages`` over CONNECTIONS concurrent connections, each waiting for every answer."""
    shares = [messages[i::CONNECTIONS] for i in range(CONNECTIONS)]
    answers: list[bytes] = []

    async def main() -> None:
        await asyncio.gather(*(_connection(port, share, answers) for share in shares))

    start = time.perf_counter()
    asyncio.run(main())
    return len(messages) / (time.perf_counter() - start), answers


def _spawn(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError(f"{args} did not start")
    # "... on 127.0.0.1:PORT" or "echo on PORT", possibly followed by "(N processes)".
    return process, int(line.split(" on ", 1)[1].split()[0].rsplit(":", 1)[-1])


def _database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def _backend_pids() -> list[int]:
    """The PostgreSQL backends serving the listener (its connections stay open)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def _backends_cpu() -> dict[int, float]:
    return {pid: _tree_cpu_seconds(pid) for pid in _backend_pids()}


def _backends_cpu_since(before: dict[int, float]) -> float:
    """CPU seconds of the listener's backends since ``before``; a backend that was not there
    yet (a worker thread that connected during the run) counts whole."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in _backends_cpu().items())


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far (Linux /proc; 0 elsewhere)."""
    proc = Path("/proc")
    if not proc.exists():
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = (proc / str(current) / "stat").read_text()
            children = (proc / str(current) / "task" / str(current) / "children").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        pending += [int(child) for child in children.split()]
    return total


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def bench_ingest(rng: random.Random, site: Site) -> dict[str, float]:
    messages = [
        orm_o01(random_order(rng, accession=f"HL7B{i}"), facility=FACILITY, version="2.5")
        for i in range(ORDERS)
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    echo, echo_port = _spawn([sys.executable, "-c", ECHO_SERVER], env)
    try:
        drive(echo_port, messages[:200])  # warm-up
        echo_rate, _ = drive(echo_port, messages)
    finally:
        _stop(echo)
    warm = [
        orm_o01(random_order(rng, accession=f"WARM{i}"), facility=FACILITY, version="2.5")
        for i in range(200)
    ]
    if connection.vendor == "postgresql":
        # With REDIS_URL set the listener sends its (batched) study changes to the Redis channel
        # layer, as in production; without, to the in-memory layer, as on the embedded default.
        env = {**env, "DATABASE_URL": _database_url()}
        listener, port = _spawn(
            [
                sys.executable,
                "manage.py",
                "hl7_listener",
                "--host=127.0.0.1",
                "--port=0",
                f"--processes={PROCESSES}",
                f"--workers={WORKERS}",
            ],
            env,
        )
        try:
            drive(port, warm)
            # Statistics, as autovacuum keeps them on a live database: on tables created a
            # moment ago there are none, and the planner, guessing, answers the per-batch
            # lookups by (site, accession) and (site, message id) by scanning every row of the
            # site (measured: a millisecond or more per batch, growing with the table).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            before = _tree_cpu_seconds(listener.pid)
            before_db = _backends_cpu()
            rate, answers = drive(port, messages)
            # CPU per message of the listener processes and of their database backends (when
            # PostgreSQL runs on this machine), start-up and warm-up excluded: what it costs in
            # cores, whatever else the machine was doing during the run.
            cpu_ms = (_tree_cpu_seconds(listener.pid) - before) * 1000 / len(messages)
            db_ms = _backends_cpu_since(before_db) * 1000 / len(messages)
        finally:
            _stop(listener)
    else:
        # A smoke run (SQLite in memory): the listener in this process, sharing the database.
        with running_listener(workers=1) as in_process:
            drive(in_process.port, warm)
            rate, answers = drive(in_process.port, messages)
        cpu_ms = db_ms = 0.0
    accepted = sum(1 for a in answers if b"MSA|AA|" in a)
    stored = InboundMessage.objects.filter(site=site, status="APPLIED").count()
    if accepted != ORDERS or stored != ORDERS + len(warm):
        raise RuntimeError(f"{accepted} AA of {ORDERS}; {stored} applied rows")
    return {
        "hl7_listener_processes": float(PROCESSES if connection.vendor == "postgresql" else 1),
        "hl7_listener_workers_per_process": float(
            WORKERS if connection.vendor == "postgresql" else 1
        ),
        "hl7_orders_per_s": rate,
        "mllp_echo_per_s": echo_rate,
        "hl7_ingest_ratio": rate / echo_rate,
        "hl7_listener_cpu_ms_per_order": cpu_ms,
        "hl7_postgres_cpu_ms_per_order": db_ms,
    }


def bench_results(site: Site) -> dict[str, float]:
    studies = list(Study.objects.filter(site=site).values_list("id", flat=True)[:RESULTS])
    now = timezone.now()
    with transaction.atomic():
        for study_id in studies:
            outbox_enqueue_report(
                study_id=study_id,
                delivery=ReportDelivery(
                    report_version_id=study_id,
                    version_number=1,
                    result_status="F",
                    sections=(
                        ReportSection("Funn", "Ingen blødning.\nNormale forhold intrakranielt."),
                        ReportSection("Konklusjon", "Normal CT caput."),
                    ),
                    signed_by_name="Kari Nordmann",
                    signed_by_hpr="1234567",
                    signed_at=now,
                ),
            )
    with ResultReceiver() as ris:
        SiteHl7Config.objects.filter(site=site).update(ris_host=ris.host, ris_port=ris.port)
        start = time.perf_counter()
        outbox_drain(batch=200, rounds=1000)
        elapsed = time.perf_counter() - start
    delivered = OutboundMessage.objects.filter(status=OutboundStatus.DELIVERED).count()
    if delivered != len(studies):
        raise RuntimeError(f"{delivered} of {len(studies)} results delivered")
    return {"oru_delivered_per_s": len(studies) / elapsed}


def ensure_patient_base(count: int) -> None:
    """Orders arrive into a database that already knows a region's patients. Into a nearly
    empty one, PostgreSQL plans the foreign-key checks of each new row (cached for the life of
    the listener's connections) as scans of a table of a few pages, which then grows under them:
    measured, a quarter of a millisecond per order. When the section runs on its own
    (BENCH_ONLY=hl7), it adds patients with identifiers first."""
    missing = count - Patient.objects.count()
    if missing <= 0:
        return
    patients = Patient.objects.bulk_create(
        (Patient(family_name=f"Base{i}", birth_date=dt.date(1960, 1, 1)) for i in range(missing)),
        batch_size=5000,
    )
    PatientIdentifier.objects.bulk_create(
        (
            PatientIdentifier(patient=p, kind="MR", authority="hl7base", value=f"HB{i}")
            for i, p in enumerate(patients)
        ),
        batch_size=5000,
    )


# --- The codec, ours against python-hl7 (no database, no socket) --------------------------------


class TheirSegment(Segment):
    """A python-hl7 segment behind codec.Segment's interface (what mapping.py reads), each read
    done the python-hl7 way (``extract_field``, which unescapes): what production would run if
    it parsed with python-hl7."""

    __slots__ = ("_message", "_segment")

    def __init__(self, message: hl7.Message, segment: hl7.Segment, seps: Separators) -> None:
        # No fields of its own: every read goes to python-hl7's segment.
        Segment.__init__(self, str(segment[0]), [], seps)
        self._message = message
        self._segment = segment

    def raw(self, number: int) -> str:
        return str(self._segment[number]) if number < len(self._segment) else ""

    def component(self, number: int, component: int = 1, *, repetition: int = 0) -> str:
        try:
            return self._segment.extract_field(1, number, repetition + 1, component, 1)
        except IndexError:
            return ""

    def components(self, repetition_value: str) -> list[str]:
        return [
            self._message.unescape(p.split(self.seps.subcomponent)[0])
            for p in repetition_value.split(self.seps.component)
        ]


def _per_message_us(work: Callable[[bytes], object], messages: list[bytes]) -> list[float]:
    """Microseconds per message of ``work`` over all ``messages``, once per repeat."""
    samples = []
    for _ in range(CODEC_REPEATS):
        start = time.perf_counter()
        for raw in messages:
            work(raw)
        samples.append((time.perf_counter() - start) * 1e6 / len(messages))
    return samples


def _compare(name: str, ours: list[float], theirs: list[float]) -> dict[str, float]:
    """Medians of both, their ratio, and the spread of our repeats (what "within noise" means:
    a ratio inside 1 +- spread would be noise)."""
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    return {
        f"hl7_codec_{name}_us": ours_median,
        f"hl7_codec_{name}_python_hl7_us": theirs_median,
        f"hl7_codec_{name}_python_hl7_ratio": theirs_median / ours_median,
        f"hl7_codec_{name}_spread": (max(ours) - min(ours)) / ours_median,
    }


def _their_parse(raw: bytes, default_charset: str = "UNICODE UTF-8") -> Message:
    """As the listener would with python-hl7: the header first (the site, the charset), then
    python-hl7's parse of the decoded text."""
    header = read_header(raw)
    encoding = {"UNICODE UTF-8": "utf-8", "8859/1": "latin-1"}[header.charset or default_charset]
    theirs = hl7.parse(raw.decode(encoding))
    return Message(
        segments=[TheirSegment(theirs, segment, header.seps) for segment in theirs],
        seps=header.seps,
        charset=header.charset,
        encoding=encoding,
    )


def _results(rng: random.Random, count: int) -> list[bytes]:
    """ORU^R01s as the outbox writes them: three report sections over several lines, with
    separators in the text and Norwegian letters."""
    oslo = zoneinfo.ZoneInfo("Europe/Oslo")
    signed = dt.datetime(2026, 7, 15, 21, 5, tzinfo=dt.UTC)
    out = []
    for i in range(count):
        code, text, modality = rng.choice(PROCEDURES)
        out.append(
            oru_r01(
                identity=Identity("TELERAD", "TELERAD"),
                destination=Destination("RIS", "ALFA", "UNICODE UTF-8", oslo, "ALFA"),
                patient=PatientData(
                    identifiers=(("FNR", f"1705701{i:04d}"), ("MR", f"L{i}")),
                    family_name=rng.choice(FAMILY_NAMES),
                    given_name=rng.choice(GIVEN_NAMES),
                    birth_date=dt.date(1970, 5, 17),
                    sex="F",
                ),
                order=OrderData(
                    placer_order_number=f"PL-{i}",
                    filler_order_number=f"FI-{i}",
                    accession_number=f"ACC{i}",
                    procedure_code=code,
                    procedure_text=text,
                    procedure_coding_system="NCRP",
                    modality=modality,
                    observed_at=signed - dt.timedelta(hours=1),
                    study_instance_uid=f"1.2.826.0.1.3680043.{i}",
                ),
                report={
                    "result_status": "F",
                    "signed_at": signed.isoformat(),
                    "signed_by_name": "Kari Nordmann",
                    "signed_by_hpr": "9123456",
                    "sections": [
                        {"title": "Indikasjon", "text": "Hodepine ^ kvalme & oppkast."},
                        {
                            "title": "Funn",
                            "text": "Ingen blødning.\nVentrikler | normale ~ symmetriske.\n"
                            "Ingen masseeffekt. Midtlinjestrukturer sentrert.",
                        },
                        {"title": "Konklusjon", "text": "Normal CT caput. ÆØÅ æøå \\ ok."},
                    ],
                },
                control_id=f"R{i}",
                at=signed,
            )
        )
    return out


def bench_codec(rng: random.Random) -> dict[str, float]:
    """Microseconds per message, ours against python-hl7, for what production does with HL7:
    - orm: an order's bytes to the command the order services take (header, parse, mapping);
      this is the listener's codec work per message;
    - orm_parse: the parse alone (python-hl7's object tree against our per-segment split);
    - oru: a result's bytes to its report text (OBX-5 of every line): the test RIS's reading;
    - ack: the acknowledgement of an order (ours: build_ack on the header; python-hl7:
      create_ack on its parsed message, which has no ERR segment and no MSH-18).
    Both sides' results are checked equal first, so both do the same work."""
    context = mapping.SiteContext(
        code="hl7bench", sending_facility=FACILITY, zone=zoneinfo.ZoneInfo("Europe/Oslo")
    )
    orders = [
        orm_o01(random_order(rng, accession=f"C{i}"), facility=FACILITY, version="2.5")
        for i in range(CODEC_MESSAGES)
    ]
    results = _results(rng, CODEC_MESSAGES)
    identity = Identity("TELERAD", "TELERAD")

    def ours_command(raw: bytes) -> mapping.Command:
        return mapping.to_command(parse(raw, header=read_header(raw)), context)

    def their_command(raw: bytes) -> mapping.Command:
        return mapping.to_command(_their_parse(raw), context)

    def ours_text(raw: bytes) -> list[str]:
        return [obx.text(5) for obx in parse(raw).all("OBX")]

    def their_text(raw: bytes) -> list[str]:
        message = hl7.parse(raw.decode("utf-8"))
        return [
            message.unescape(str(obx[5]), app_map={".br": "\n"}) for obx in message.segments("OBX")
        ]

    def ours_ack(raw: bytes) -> bytes:
        return build_ack(header=read_header(raw), code="AA", identity=identity)

    def their_ack(raw: bytes) -> bytes:
        message = hl7.parse(raw.decode("utf-8"))
        return str(message.create_ack("AA", application="TELERAD", facility="TELERAD")).encode()

    for raw in orders[:50]:
        if ours_command(raw) != their_command(raw):
            raise RuntimeError("python-hl7 and our codec read an order differently")
    for raw in results[:50]:
        if ours_text(raw) != their_text(raw):
            raise RuntimeError("python-hl7 and our codec read a result differently")
    figures: dict[str, float] = {"hl7_codec_messages": float(CODEC_MESSAGES)}
    # Interleaved, ours then theirs, so a change in the machine's load falls on both.
    pairs = {
        "orm": (ours_command, their_command, orders),
        "orm_parse": (
            lambda raw: parse(raw),
            lambda raw: hl7.parse(raw.decode("utf-8")),
            orders,
        ),
        "oru": (ours_text, their_text, results),
        "ack": (ours_ack, their_ack, orders),
    }
    for name, (ours, theirs, messages) in pairs.items():
        _per_message_us(ours, messages[:100])  # warm-up
        _per_message_us(theirs, messages[:100])
        ours_samples: list[float] = []
        their_samples: list[float] = []
        for _ in range(2):
            ours_samples += _per_message_us(ours, messages)
            their_samples += _per_message_us(theirs, messages)
        figures.update(_compare(name, ours_samples, their_samples))
    return figures


def run(rng: random.Random) -> dict[str, float]:
    ensure_patient_base(PATIENT_BASE)
    site = Site.objects.create(code="hl7bench", name="HL7 benk", hl7_sending_facility=FACILITY)
    SiteHl7Config.objects.create(site=site)
    Worklist.objects.get_or_create(is_general=True, defaults={"code": "general", "name": "General"})
    figures = bench_codec(random.Random(7))
    figures.update(bench_ingest(rng, site))
    figures.update(bench_results(site))
    return figures
