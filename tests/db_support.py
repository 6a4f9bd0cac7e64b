"""Tests that need PostgreSQL (row locks, SKIP LOCKED, real concurrency)."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connection, connections


def require_postgresql(why: str = "concurrency is tested on PostgreSQL") -> None:
    """Skip on SQLite; fail instead when CI says PostgreSQL is required (REQUIRE_POSTGRES=1)."""
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip(f"{why} (set DATABASE_URL)")


def run_at_once(target, count: int) -> tuple[list[object], list[BaseException]]:
    """``target(i)`` for i in range(count), each in a thread of its own with its own database
    connection, released together by a barrier: what each returned, and what each raised."""
    barrier = threading.Barrier(count)
    results: list[object] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(target(index))
        except BaseException as exc:  # collected for the test to assert on
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors
