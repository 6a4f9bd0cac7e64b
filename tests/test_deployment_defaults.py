"""Deployment defaults: what an installation gets without configuring anything more.

seed_demo only when embedded; CSP without inline script; HSTS and HTTPS redirect in production;
`Cache-Control: no-store` on pages and API answers; `check --deploy` clean in production; the
SQLite database and var files for the owner only; no query strings in access logs; Swagger UI
from the platform's own static files."""

from __future__ import annotations

import logging
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parent.parent
NATIONAL_NUMBER = "14838506853"


def _env(**extra: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DATABASE_URL", "TELERAD_ENV", "REDIS_URL", "ALLOWED_HOSTS"}
    }
    return {**base, **extra}


def _manage(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- seed_demo -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_in_production(settings):
    settings.TELERAD_ENV = "production"

    with pytest.raises(CommandError, match="runs only with TELERAD_ENV=embedded"):
        call_command("seed_demo", "--studies", "0", stdout=StringIO())

    assert not User.objects.filter(username="coordinator").exists()


@pytest.mark.django_db
def test_seed_demo_runs_in_production_when_forced(settings):
    settings.TELERAD_ENV = "production"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    call_command("seed_demo", "--studies", "0", "--force", stdout=StringIO())

    assert User.objects.filter(username="coordinator").exists()


# --- headers -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/worklist/", "/api/v1/worklists", "/account/", "/login/"])
def test_pages_and_api_answers_are_never_stored(client, owner, path):
    client.force_login(owner.user)

    response = client.get(path)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_a_site_integrations_answer_is_never_stored(site_a_client):
    response = site_a_client.post("/api/v1/orders", {}, format="json")

    assert response.status_code == 400
    assert "no-store" in response["Cache-Control"]


def test_static_files_stay_cacheable(client):
    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/worklist/", "/api/docs/", "/admin/"])
def test_every_page_has_a_csp_without_inline_script(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"


def _templates() -> list[Path]:
    return [
        path
        for folder in ("teleradiology", "worklists", "reports", "hl7_interface", "dicom")
        for path in (ROOT / folder).rglob("*.html")
    ]


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in _templates():
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{path.relative_to(ROOT)}: {tag}")
        for handler in re.findall(r"<[^>]*\son[a-z]+\s*=", text):
            offenders.append(f"{path.relative_to(ROOT)}: {handler}")
        if "javascript:" in text:
            offenders.append(f"{path.relative_to(ROOT)}: javascript: URL")
    assert offenders == []


@pytest.mark.django_db
def test_https_is_required_in_production_except_for_the_health_check(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600

    plain = client.get("/login/")
    health = client.get("/healthz")
    secure = client.get("/login/", secure=True)

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/login/"
    assert health.status_code in {200, 503}
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")


# --- Swagger UI ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_swagger_ui_and_its_start_up_script_are_served_by_the_platform(admin_client):
    page = admin_client.get("/api/docs/")
    html = page.content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)

    assert page.status_code == 200
    assert sources
    for source in sources:
        assert source.startswith("/"), source  # nothing from another host
        assert not source.startswith("//"), source
        assert admin_client.get(source).status_code == 200, source
    assert any("swagger-ui-bundle.js" in source for source in sources)
    assert any(source.startswith("/static/drf_spectacular_sidecar/") for source in sources)
    script = admin_client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


# --- production settings: check --deploy, file modes, access logs ---------------------------


def _production_env(tmp_path: Path) -> dict[str, str]:
    return _env(
        TELERAD_ENV="production",
        SECRET_KEY="k" * 10 + "Zq8#x!vP2@mW5&nR4$tY7^bU1*eI3(oA6)sD9-fG0_hJ" * 2,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ALLOWED_HOSTS="rad.example.org",
        TELERAD_VAR_DIR=str(tmp_path / "var"),
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_defaults_to_https_hsts_and_a_second_factor(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
        "s.SIGNIN_SECOND_FACTOR_REQUIRED)"
    )
    result = _manage("shell", "-c", code, env=_production_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", "31536000", "True", "True"]


@pytest.fixture(scope="module")
def embedded_var(tmp_path_factory) -> Path:
    """A fresh embedded installation: its var directory, migrated by a real `manage.py`."""
    var = tmp_path_factory.mktemp("install") / "var"
    result = _manage("migrate", "--noinput", env=_env(TELERAD_VAR_DIR=str(var)), timeout=600)
    assert result.returncode == 0, result.stderr
    return var


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_var_files_are_readable_by_the_owner_only(embedded_var):
    assert _mode(embedded_var) == 0o700
    files = [p for p in embedded_var.iterdir() if p.is_file()]
    names = {p.name for p in files}
    assert {"teleradiology.sqlite3", "secret_key"} <= names
    assert {p.name: _mode(p) for p in files} == dict.fromkeys(names, 0o600)


def test_the_access_log_of_the_web_server_has_no_query_strings(embedded_var):
    port = _free_port()
    env = _env(
        TELERAD_VAR_DIR=str(embedded_var),
        HL7_LISTENER_PORT=str(_free_port()),
        DICOM_PORT=str(_free_port()),
    )
    server = subprocess.Popen(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/admin/worklists/patient/?q={NATIONAL_NUMBER}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "/admin/worklists/patient/" in output  # the request was logged...
    assert NATIONAL_NUMBER not in output  # ...without its query string
    assert "?[query redacted]" in output


def test_make_run_prints_the_address_it_serves_and_points_the_demo_sites_at_its_ris(embedded_var):
    """`make run PORT=...` is seed_demo then serve with that port: both name it, and serve's
    demo RIS takes the demo sites' results (their HL7 destination is its socket)."""
    port = _free_port()
    env = _env(
        TELERAD_VAR_DIR=str(embedded_var),
        HL7_LISTENER_PORT=str(_free_port()),
        DICOM_PORT=str(_free_port()),
    )
    seeded = _manage("seed_demo", "--studies", "0", "--port", str(port), env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert f"Open http://127.0.0.1:{port}/ " in seeded.stdout
    server = subprocess.Popen(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    database = embedded_var / "teleradiology.sqlite3"
    try:
        deadline = time.monotonic() + 60
        while True:
            with sqlite3.connect(database) as db:
                pointed = db.execute(
                    "SELECT ris_host, ris_port FROM hl7_interface_sitehl7config "
                    "WHERE ris_port IS NOT NULL"
                ).fetchall()
            if len(pointed) == 7:
                break
            assert time.monotonic() < deadline, "the demo RIS never took the demo sites"
            time.sleep(0.5)
        # The demo RIS starts before the web server listens: ask until it answers.
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as ok:
                    assert ok.status == 200
                    break
            except urllib.error.URLError:
                assert time.monotonic() < deadline, "the web server never answered"
                time.sleep(0.5)
        ris_port = pointed[0][1]
        with socket.create_connection(("127.0.0.1", ris_port), timeout=5):
            pass  # the destination the demo sites were given is a listening socket
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"Teleradiology serving on http://127.0.0.1:{port}/ (embedded" in output
    assert f"demo RIS on 127.0.0.1:{ris_port} takes the results of 7 demo sites" in output
    assert {host for host, _port in pointed} == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("logger", "args"),
    [
        ("django.server", (f"GET /admin/?q={NATIONAL_NUMBER} HTTP/1.1", "200", "12")),
        ("uvicorn.access", ("127.0.0.1:5000", "GET", f"/x?q={NATIONAL_NUMBER}", "1.1", 200)),
    ],
)
def test_the_development_and_asgi_access_loggers_drop_query_strings(caplog, logger, args):
    with caplog.at_level(logging.INFO, logger=logger):
        logging.getLogger(logger).info("%s " * (len(args) - 1) + "%s", *args)

    assert NATIONAL_NUMBER not in caplog.text
    assert "?[query redacted]" in caplog.text
