from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import DatabaseError

ROOT = Path(__file__).resolve().parent.parent


def _import_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-c", "import teleradiology.settings"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _import_settings(
        {
            "TELERAD_ENV": "production",
            "DATABASE_URL": "postgres://x@127.0.0.1/x",
            "ALLOWED_HOSTS": "rad.example.org",
            "TELERAD_VAR_DIR": str(tmp_path),
        }
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when TELERAD_ENV=production" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_an_unknown_environment_name_is_refused(tmp_path):
    result = _import_settings({"TELERAD_ENV": "prod", "TELERAD_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "TELERAD_ENV must be 'embedded' or 'production'" in result.stderr


def test_the_embedded_default_needs_no_environment_and_keeps_its_key(tmp_path):
    first = _import_settings({"TELERAD_VAR_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text()
    second = _import_settings({"TELERAD_VAR_DIR": str(tmp_path)})
    assert second.returncode == 0
    assert (tmp_path / "secret_key").read_text() == key
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_healthz_answers_ok_when_the_database_answers(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_fails(client, db, monkeypatch):
    class Unreachable:
        def cursor(self):
            raise DatabaseError("connection refused")

    monkeypatch.setattr("teleradiology.health.connection", Unreachable())
    response = client.get("/healthz")
    assert response.status_code == 503
    # The cause is logged, not told to whoever asks.
    assert response.json() == {"status": "error", "database": "unavailable"}


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_the_api_schema_and_docs_are_served(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
