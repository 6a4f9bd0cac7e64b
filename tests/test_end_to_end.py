"""The whole loop with the production-style processes, each its own OS process, on PostgreSQL and
Redis: a site's RIS sends an order over MLLP, the study is routed to the reader on shift, read and
signed through the REST API, and the ORU^R01 comes back to the RIS with the report, OBR-25 F and the
radiologist in OBR-32.

Processes: the ASGI server (`manage.py serve`, not embedded once REDIS_URL is set), `hl7_listener`,
a Celery worker and Celery beat, and the test RIS (`ris_simulator`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils.crypto import get_random_string

from tests.factories import (
    PASSWORD,
    RadiologistFactory,
    SiteFactory,
    competence,
    credential,
    shift,
)
from worklists.models import Study, StudyStatus, Worklist

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CELERY = str(Path(sys.executable).with_name("celery"))

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres")
        or not os.environ.get("REDIS_URL"),
        reason="needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL), as in CI",
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Processes:
    """Starts each process in its own session and stops them all, printing the logs of any that
    died early so a failure says why."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        log = self.log_dir / f"{name}.log"
        process = subprocess.Popen(  # noqa: S603 - our own commands
            list(command),
            cwd=ROOT,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append((name, process, log))
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} (exit {process.poll()}) ---\n{log.read_text(errors='replace')[-4000:]}"
            for name, process, log in self.started
        )

    def stop(self) -> None:
        for _, process, _ in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process, _ in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    settings_dict = connection.settings_dict
    database_url = (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}"
        f"@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}"
        f"/{settings_dict['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,  # the test database this test's rows are committed to
        "TELERAD_VAR_DIR": str(tmp_path),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
    }
    started = Processes(env, tmp_path)
    try:
        yield started
    finally:
        started.stop()


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.token = ""

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - a local test server
            self.base + path, data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None


def test_an_order_from_the_ris_comes_back_as_a_signed_final_report(
    processes: Processes, general_worklist: Worklist
) -> None:
    site = SiteFactory.create(
        code="e2e", name="Ende-til-ende sjukehus", hl7_sending_facility="E2EHOSP"
    )
    general = general_worklist
    reader = RadiologistFactory.create(user__username="e2e-reader", hpr_number="9123456")
    # The server processes check passwords with the production hashers, not the tests' fast one.
    reader.user.password = PBKDF2PasswordHasher().encode(PASSWORD, get_random_string(16))
    reader.user.save(update_fields=["password"])
    credential(reader, site)
    competence(reader, general)
    shift(reader, worklists=(general,), sites=(site,))

    web_port, hl7_port = free_port(), free_port()
    manage = [PYTHON, "manage.py"]
    processes.start("web", *manage, "serve", "--host", "127.0.0.1", "--port", str(web_port))
    processes.start("hl7", *manage, "hl7_listener", "--host", "127.0.0.1", "--port", str(hl7_port))
    processes.start(
        "worker", CELERY, "-A", "teleradiology", "worker", "--pool=threads", "--concurrency=4",
        "--without-gossip", "--without-mingle", "--loglevel=INFO",
    )  # fmt: skip
    processes.start(
        "beat", CELERY, "-A", "teleradiology", "beat", "--loglevel=INFO",
        "--schedule", str(processes.log_dir / "beat-schedule"), "--max-interval", "2",
    )  # fmt: skip
    try:
        wait_for("the web server and the HL7 listener", lambda: port_open(web_port))
        wait_for("the HL7 listener", lambda: port_open(hl7_port))

        ris = processes.start(
            "ris", *manage, "ris_simulator", "--site", "e2e", "--send-orders", "1",
            "--complete-exams", "--accession-prefix", "E2E-", "--seed", "7",
            "--port", str(hl7_port), "--listen-port", "0",
            "--exit-after-results", "1", "--timeout", "120",
        )  # fmt: skip

        study = wait_for(
            "the order to be routed to the reader on shift",
            lambda: Study.objects.filter(
                site=site, accession_number="E2E-1", status=StudyStatus.ASSIGNED
            ).first(),
        )
        assert study.assignments.get(ended_at__isnull=True).radiologist_id == reader.id

        api = Api(web_port)
        status, body = api.call(
            "POST", "/auth/token", {"username": "e2e-reader", "password": PASSWORD}
        )
        assert status == 200, body
        api.token = body["token"]

        sections = [
            {"key": "findings", "title": "Funn", "text": "Ingen blødning. Normale ventrikler."},
            {"key": "conclusion", "title": "Konklusjon", "text": "Normal undersøkelse, æøå ÆØÅ."},
        ]
        status, body = api.call(
            "PUT", f"/studies/{study.id}/report", {"sections": sections, "revision": 0}
        )
        assert status == 200, body
        status, body = api.call("POST", f"/studies/{study.id}/report/sign", {"password": PASSWORD})
        assert status == 201, body

        ris.wait(timeout=120)
        result = (processes.log_dir / "ris.log").read_text()
        assert ris.returncode == 0, processes.logs()
    except BaseException:
        print(processes.logs())
        raise

    assert "RESULT ORU^R01" in result
    segments = {
        line.strip().split("|", 1)[0]: line.strip().split("|")
        for line in result.splitlines()
        if line.startswith("  ")
    }
    assert segments["OBR"][25] == "F"
    assert segments["OBR"][18] == "E2E-1"
    assert "9123456" in segments["OBR"][32]
    assert "Normal undersøkelse, æøå ÆØÅ." in result
    study.refresh_from_db()
    assert study.status == StudyStatus.FINAL
