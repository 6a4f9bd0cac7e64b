"""Inbound messages are written down first, in their own transaction, then applied.

The ingest hot path (hundreds of orders a second over HL7) measured the ORM's per-call query
compilation at about ten times the CPU of the statement itself, so the few statements every
message runs are prepared once here (``insert_row``, ``lock_ids``) while the rules stay in the
services that call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import AutoField, BigAutoField, Field, Model
from django.utils import timezone

from worklists.models import InboundMessage

_INSERTS: dict[tuple[str, type[Model]], tuple[str, list[Field[Any, Any]]]] = {}


def insert_row(obj: Model) -> None:
    """INSERT a new row as ``obj.save()`` would (defaults, auto_now, database preparation of
    each field), with the statement built once per model. No signals: none are used here."""
    model = type(obj)
    key = (connection.vendor, model)
    cached = _INSERTS.get(key)
    if cached is None:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not isinstance(f, AutoField | BigAutoField)]
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}"
        )
        cached = _INSERTS[key] = (sql, fields)
    sql, fields = cached
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias


def lock_ids(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (a SELECT) locked FOR UPDATE where the database has row locks (SQLite
    serialises writers with its IMMEDIATE transactions instead)."""
    if connection.features.has_select_for_update:
        sql = f"{sql} FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


def inbound_store(
    *,
    channel: str,
    raw: bytes,
    site_id: int | None,
    peer: str = "",
    content_type: str = "",
    message_type: str = "",
    message_id: str = "",
) -> InboundMessage:
    """Persist the raw message before anything else looks at it (autocommit: it survives a
    failure of whatever comes next)."""
    message = InboundMessage(
        channel=channel,
        raw=raw,
        site_id=site_id,
        peer=peer[:100],
        content_type=content_type[:100],
        message_type=message_type[:32],
        message_id=message_id[:100],
        received_at=timezone.now(),
    )
    insert_row(message)
    return message


def inbound_applied_before(*, site_id: int, message_id: str, exclude_id: int) -> int | None:
    """The id of an applied message from this sender with this message id, if there is one."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {InboundMessage._meta.db_table} "  # noqa: S608 - our table name
            "WHERE site_id = %s AND message_id = %s AND status = %s AND id <> %s "
            "ORDER BY id LIMIT 1",
            [site_id, message_id, InboundMessage.Status.APPLIED.value, exclude_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def inbound_mark_failed(*, inbound_id: int, error: str) -> None:
    InboundMessage.objects.filter(id=inbound_id).update(
        status=InboundMessage.Status.FAILED, error=error, processed_at=timezone.now()
    )


class InboundAlreadyApplied(Exception):
    """Another worker applied this message first (recovery racing the listener, or a double
    reprocess): the caller's transaction must roll back so the change is made once."""


def inbound_mark_applied(*, inbound_id: int, study_id: int | None) -> None:
    """Called inside the applying transaction, so 'applied' commits with the change itself.

    A compare-and-set: only a message not yet applied can be marked, so whoever applies a
    message second rolls back instead of applying it twice.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {InboundMessage._meta.db_table} "  # noqa: S608 - our table name
            "SET status = %s, error = '', processed_at = %s, study_id = %s "
            "WHERE id = %s AND status IN (%s, %s)",
            [
                InboundMessage.Status.APPLIED.value,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                study_id,
                inbound_id,
                InboundMessage.Status.RECEIVED.value,
                InboundMessage.Status.FAILED.value,
            ],
        )
        updated = cursor.rowcount
    if not updated:
        raise InboundAlreadyApplied(f"inbound message {inbound_id} was applied already")


def inbound_mark_duplicate(*, inbound_id: int, original_id: int) -> None:
    """A repeat of an applied message (same sender, same message id): kept, changes nothing."""
    InboundMessage.objects.filter(id=inbound_id).update(
        status=InboundMessage.Status.DUPLICATE,
        error=f"duplicate of message {original_id}",
        processed_at=timezone.now(),
    )
