"""Hot-path statements as server-side prepared statements on PostgreSQL.

Django sends every statement as new text (with its parameters bound on the client, or as an
unnamed statement), so PostgreSQL parses and plans it on every run; for the few statements that
run for every "read next" and every inbound order, that costs more than running them. Those
are sent here with their parameters apart and prepared once per connection.

A prepared statement keeps its generic plan, so only statements whose plan cannot go wrong as
tables grow are prepared: INSERTs, lookups on every column of a unique index, and "read next",
which follows the partial index of ready studies in reading order. A lookup the planner might
answer from a less selective index (say, a site's studies) while a table is nearly empty, as on
a new installation, could scan that index for ever after; those stay unprepared.
``DATABASE_PREPARED_STATEMENTS=false`` turns this off behind a pooler that cannot keep prepared
statements (PgBouncer before 1.21).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper
from psycopg import pq

# Django opens psycopg connections with prepare_threshold=None, which makes psycopg ignore
# ``prepare=True``; a threshold no statement reaches by repetition prepares only the statements
# that ask for it (Django's own queries are left as they were).
EXPLICIT_PREPARE_ONLY = 2**31 - 1

Params = Sequence[Any] | Mapping[str, Any]

# A statement over N rows or keys (a listener's batch of N frames) is a statement of its own to
# PostgreSQL for each N. Up to this many, each shape is prepared like the one-row statement,
# when that one may be (a few more plans a connection keeps); beyond, it is planned per run.
PREPARED_BATCH_MAX = 8


def enable_explicit_prepare(raw_connection: psycopg.Connection[Any]) -> None:
    if raw_connection.prepare_threshold is None:
        raw_connection.prepare_threshold = EXPLICIT_PREPARE_ONLY


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: Params = ()
    prepare: bool = False


def _postgresql_connection(db: BaseDatabaseWrapper, prepare: bool) -> psycopg.Connection[Any]:
    db.ensure_connection()
    db.validate_thread_sharing()
    db.validate_no_broken_transaction()
    raw_connection: psycopg.Connection[Any] = db.connection
    if prepare:
        enable_explicit_prepare(raw_connection)
    return raw_connection


def _send(db: BaseDatabaseWrapper, cursor: psycopg.Cursor[Any], statement: Statement) -> None:
    prepare = statement.prepare and settings.DATABASE_PREPARED_STATEMENTS
    if db.queries_logged:
        with CursorDebugWrapper(cursor, db).debug_sql(statement.sql, statement.params):
            cursor.execute(statement.sql, statement.params, prepare=prepare)
    else:
        cursor.execute(statement.sql, statement.params, prepare=prepare)


def execute_together(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` in order and return each one's rows ([] for none). On PostgreSQL they
    go in one network round trip (libpq pipeline mode): statements whose parameters do not
    depend on each other's results cost one wait for the server, not one each.

    Inside a transaction they are part of it, and the first error aborts it as usual (the
    caller's atomic block rolls it back). Outside one they run as ONE implicit transaction:
    all of them commit together, or, if one fails, none does."""
    if not statements:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        if db.in_atomic_block:
            return [run(statement) for statement in statements]
        with transaction.atomic(using=db.alias):
            return [run(statement) for statement in statements]
    raw_connection = _postgresql_connection(db, any(s.prepare for s in statements))
    cursors = [psycopg.Cursor(raw_connection) for _statement in statements]
    try:
        with db.wrap_database_errors, raw_connection.pipeline():
            for cursor, statement in zip(cursors, statements, strict=True):
                _send(db, cursor, statement)
        return [_rows(cursor) for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def run(statement: Statement) -> list[tuple[Any, ...]]:
    return execute(statement.sql, statement.params, prepare=statement.prepare)


def execute(sql: str, params: Params, *, prepare: bool = True) -> list[tuple[Any, ...]]:
    """Run ``sql`` on this thread's connection, in its transaction if one is open, and return
    the rows it returns ([] for none). On PostgreSQL its parameters go apart from it and, with
    ``prepare``, it is prepared once per connection; elsewhere it runs through Django's
    cursor. Seen by query capture in tests like any Django query."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as django_cursor:
            django_cursor.execute(sql, params)
            return list(django_cursor.fetchall()) if django_cursor.description else []
    statement = Statement(sql, params, prepare)
    cursor = _kept_cursor(db, _postgresql_connection(db, prepare))
    with db.wrap_database_errors:
        _send(db, cursor, statement)
        return _rows(cursor)


_KEPT_CURSOR = "_prepared_kept_cursor"


def _kept_cursor(
    db: BaseDatabaseWrapper, raw_connection: psycopg.Connection[Any]
) -> psycopg.Cursor[Any]:
    """A cursor on ``raw_connection`` kept with Django's connection between statements: a new
    cursor starts without the adapters it found for the last parameters and looks them all up
    again, which costs a hot statement as much as its network round trip. A new connection
    (reconnect, pool) gets a new cursor."""
    cursor: psycopg.Cursor[Any] | None = db.__dict__.get(_KEPT_CURSOR)
    if cursor is None or cursor.connection is not raw_connection or cursor.closed:
        cursor = db.__dict__[_KEPT_CURSOR] = psycopg.Cursor(raw_connection)
    return cursor


def _rows(cursor: psycopg.Cursor[Any]) -> list[tuple[Any, ...]]:
    """The rows of the statement just run, [] for one that returns none (asked of the result's
    status: ``cursor.description`` would build a Column object per column to say the same)."""
    result = cursor.pgresult
    if result is None or result.status != pq.ExecStatus.TUPLES_OK:
        return []
    return cursor.fetchall()
