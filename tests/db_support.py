"""Tests that need PostgreSQL (row locks, SKIP LOCKED, real concurrency)."""

from __future__ import annotations

import os

import pytest
from django.db import connection


def require_postgresql(why: str = "concurrency is tested on PostgreSQL") -> None:
    """Skip on SQLite; fail instead when CI says PostgreSQL is required (REQUIRE_POSTGRES=1)."""
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip(f"{why} (set DATABASE_URL)")
