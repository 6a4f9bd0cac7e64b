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
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorDebugWrapper

# Django opens psycopg connections with prepare_threshold=None, which makes psycopg ignore
# ``prepare=True``; a threshold no statement reaches by repetition prepares only the statements
# that ask for it (Django's own queries are left as they were).
EXPLICIT_PREPARE_ONLY = 2**31 - 1

Params = Sequence[Any] | Mapping[str, Any]


def enable_explicit_prepare(raw_connection: psycopg.Connection[Any]) -> None:
    if raw_connection.prepare_threshold is None:
        raw_connection.prepare_threshold = EXPLICIT_PREPARE_ONLY


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
    db.ensure_connection()
    db.validate_thread_sharing()
    db.validate_no_broken_transaction()
    raw_connection = db.connection
    prepare = prepare and settings.DATABASE_PREPARED_STATEMENTS
    if prepare:
        enable_explicit_prepare(raw_connection)
    with db.wrap_database_errors, psycopg.Cursor(raw_connection) as cursor:
        if db.queries_logged:
            with CursorDebugWrapper(cursor, db).debug_sql(sql, params):
                cursor.execute(sql, params, prepare=prepare)
        else:
            cursor.execute(sql, params, prepare=prepare)
        return cursor.fetchall() if cursor.description else []
