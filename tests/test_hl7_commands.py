"""The commands: ris_simulator drives the listener and takes results back; hl7_listener runs as
its own process (PostgreSQL: the process needs a database it can share with the test)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from demo_ris.orders import OrderSpec, orm_o01
from hl7_interface.client import MllpClient, MllpError
from hl7_interface.delivery import outbox_drain
from hl7_interface.mllp import frame
from hl7_interface.models import SiteHl7Config
from hl7_interface.outbox import ReportDelivery, ReportSection, outbox_enqueue_report
from tests import factories
from tests.hl7_support import hl7_site, listener
from worklists.models import InboundMessage, Study

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = (hl7_site, listener)
ROOT = Path(__file__).resolve().parent.parent


def _sign_when_ordered(site_id: int, count: int, errors: list[BaseException]) -> None:
    """Plays the radiologist: once the simulator's orders are in, a report is signed."""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            config = SiteHl7Config.objects.filter(site_id=site_id).first()
            ordered = Study.objects.filter(site_id=site_id).count()
            if config and config.ris_port and ordered >= count:
                break
            time.sleep(0.05)
        study = Study.objects.filter(site_id=site_id).order_by("id").first()
        assert study is not None
        with transaction.atomic():
            outbox_enqueue_report(
                study_id=study.id,
                delivery=ReportDelivery(
                    report_version_id=1,
                    version_number=1,
                    result_status="F",
                    sections=(ReportSection("Konklusjon", "Normal CT caput. Ødem ikke påvist."),),
                    signed_by_name="Kari Nordmann",
                    signed_by_hpr="9123456",
                    signed_at=timezone.now(),
                ),
            )
        outbox_drain()
    except BaseException as exc:
        errors.append(exc)
    finally:
        connections.close_all()


def test_ris_simulator_sends_orders_and_prints_the_result_it_acknowledges(listener, hl7_site):
    out = io.StringIO()
    errors: list[BaseException] = []
    radiologist = threading.Thread(target=_sign_when_ordered, args=(hl7_site.id, 3, errors))
    radiologist.start()

    call_command(
        "ris_simulator",
        "--site=alfa",
        "--send-orders=3",
        f"--port={listener.port}",
        "--listen-port=0",
        "--exit-after-results=1",
        "--accession-prefix=SIM-",
        "--seed=7",
        "--timeout=60",
        stdout=out,
    )
    radiologist.join(timeout=60)

    assert errors == []
    lines = out.getvalue().splitlines()
    assert [line.split()[:3] for line in lines if line.startswith("ORDER")] == [
        ["ORDER", "SIM-1", "AA"],
        ["ORDER", "SIM-2", "AA"],
        ["ORDER", "SIM-3", "AA"],
    ]
    [result] = [line for line in lines if line.startswith("RESULT")]
    assert result.split()[1] == "ORU^R01^ORU_R01"
    assert result.split()[3:] == ["SIM-1", "F"]
    assert "  OBX|1|TX|KONKLUSJON^Konklusjon^L|1|Normal CT caput. Ødem ikke påvist." in "\n".join(
        lines
    )
    assert Study.objects.filter(site=hl7_site).count() == 3


def test_the_listener_process_applies_orders_and_stops_cleanly_on_sigterm(hl7_site):
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("a listener process shares the test database on PostgreSQL only")
    factories.WorklistFactory(code="general", name="General", is_general=True)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "HL7_WORKERS": "2"}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "hl7_listener", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        port = int(line.rsplit(":", 1)[-1])
        order = OrderSpec("ACC-PROC", fnr=factories.synthetic_fnr())
        with MllpClient("127.0.0.1", port) as client:
            ack = client.send_message(orm_o01(order, facility="ALFA"))
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)

    assert ack.code == "AA"
    assert code == 0
    assert Study.objects.filter(accession_number="ACC-PROC").exists()
    assert InboundMessage.objects.get().status == "APPLIED"


def test_several_listener_processes_share_one_port(hl7_site):
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("listener processes share the test database on PostgreSQL only")
    factories.WorklistFactory(code="general", name="General", is_general=True)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "hl7_listener", "--port=0", "--processes=2", "--workers=2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.endswith("(2 processes)\n")
        port = int(line.split(":")[-1].split()[0])
        codes = []
        for i in range(6):
            order = OrderSpec(f"ACC-MP{i}", fnr=factories.synthetic_fnr())
            with MllpClient("127.0.0.1", port) as client:
                codes.append(client.send_message(orm_o01(order, facility="ALFA")).code)
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=30)

    assert codes == ["AA"] * 6
    assert exit_code == 0
    assert Study.objects.filter(accession_number__startswith="ACC-MP").count() == 6


def _listener_process(env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "hl7_listener", "--port=0", "--workers=2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, int(line.rsplit(":", 1)[-1])


def test_a_listener_killed_between_storing_and_applying_applies_the_message_once_on_restart(
    hl7_site,
):
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("listener processes share the test database on PostgreSQL only")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("REDIS_URL", None)
    fnr = factories.synthetic_fnr()
    first, port = _listener_process(env)
    try:
        with MllpClient("127.0.0.1", port) as client:
            assert (
                client.send_message(orm_o01(OrderSpec("ACC-K", fnr=fnr), facility="ALFA")).code
                == "AA"
            )
        change = orm_o01(
            OrderSpec("ACC-K", fnr=fnr, control="XO", priority="S"),
            facility="ALFA",
            control_id="KILL-1",
        )
        # Hold the study's row lock so the listener stores the change and then waits to apply it.
        with transaction.atomic():
            Study.objects.select_for_update().get(accession_number="ACC-K")
            client = MllpClient("127.0.0.1", port, timeout=30)
            client.send_raw(frame(change))
            deadline = time.monotonic() + 20
            while not InboundMessage.objects.filter(message_id="KILL-1").exists():
                assert time.monotonic() < deadline, "the change was never stored"
                time.sleep(0.05)
            first.kill()  # SIGKILL: no cleanup, no ACK
            first.wait(timeout=10)
        with pytest.raises(MllpError):
            client.receive()
        client.close()
        assert InboundMessage.objects.get(message_id="KILL-1").status == "RECEIVED"
    finally:
        first.kill()

    second, port = _listener_process(env)  # recovers on start, before it listens
    try:
        with MllpClient("127.0.0.1", port) as client:
            again = client.send_message(change)  # the RIS never got its ACK and resends
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    study = Study.objects.get(accession_number="ACC-K")
    assert study.priority == "STAT"
    assert study.events.filter(reason="order updated").count() == 1
    assert again.code == "AA"
    assert "duplicate of message" in again.text
    assert list(
        InboundMessage.objects.filter(message_id="KILL-1")
        .order_by("id")
        .values_list("status", flat=True)
    ) == ["APPLIED", "DUPLICATE"]
