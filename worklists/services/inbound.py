"""Inbound messages are written down first, in their own transaction, then applied.

The ingest hot path (hundreds of orders a second over HL7) measured the ORM's per-call query
compilation at about ten times the CPU of the statement itself, so the few statements every
message runs are prepared once here (``insert_row``, ``lock_ids``) while the rules stay in the
services that call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import AutoField, BigAutoField, Field, Model
from django.utils import timezone

from worklists import prepared
from worklists.models import InboundMessage


def _db() -> BaseDatabaseWrapper:
    """This thread's connection itself: every attribute read through the ``connection`` proxy
    is a thread-local lookup, and preparing one row's fields reads dozens."""
    return connections[DEFAULT_DB_ALIAS]


_Field: TypeAlias = "Field[Any, Any]"
_Fields: TypeAlias = "list[Field[Any, Any]]"
_INSERTS: dict[tuple[str, type[Model]], tuple[str, _Fields]] = {}


def _insert_statement(model: type[Model]) -> tuple[str, _Fields]:
    db = _db()
    key = (db.vendor, model)
    cached = _INSERTS.get(key)
    if cached is None:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not isinstance(f, AutoField | BigAutoField)]
        quote = db.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}"
        )
        cached = _INSERTS[key] = (sql, fields)
    return cached


# Fields whose database value is the attribute itself when it is None or of exactly this type:
# get_db_prep_save would only convert it to what it already is (no subclasses: they may not).
_PLAIN_TYPES: dict[type[Any], type] = {
    models.CharField: str,
    models.TextField: str,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.SmallIntegerField: int,
    models.BooleanField: bool,
    models.ForeignKey: int,
}


def _params(obj: Model, fields: _Fields, db: BaseDatabaseWrapper) -> list[Any]:
    """``[f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in fields]``, with the plain
    values (most of them) taken as they are."""
    out: list[Any] = []
    for f in fields:
        plain = _PLAIN_TYPES.get(type(f))
        if plain is not None:
            value = getattr(obj, f.attname)
            if value is None or type(value) is plain:
                out.append(value)
                continue
        out.append(f.get_db_prep_save(f.pre_save(obj, add=True), db))
    return out


def insert_row(obj: Model) -> None:
    """INSERT a new row as ``obj.save()`` would (defaults, auto_now, database preparation of
    each field), with the statement built once per model. No signals: none are used here."""
    db = _db()
    sql, fields = _insert_statement(type(obj))
    [row] = prepared.execute(sql, _params(obj, fields, db))
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = db.alias


_WITH_CHILD: dict[tuple[type[Model], type[Model], str], tuple[str, _Fields, _Fields, _Field]] = {}


def _insert_with_child_statement(
    parent: type[Model], child: type[Model], link: str
) -> tuple[str, _Fields, _Fields, _Field]:
    key = (parent, child, link)
    cached = _WITH_CHILD.get(key)
    if cached is None:
        parent_sql, parent_fields = _insert_statement(parent)
        child_sql, child_fields = _insert_statement(child)
        link_field = next(f for f in child_fields if f.name == link)
        quote = _db().ops.quote_name
        child_head, _, _values = child_sql.partition(" VALUES ")
        values = ", ".join(
            f"(SELECT {quote(parent._meta.pk.column)} FROM parent)"  # noqa: S608
            if f is link_field
            else "%s"
            for f in child_fields
        )
        sql = (
            f"WITH parent AS ({parent_sql}) {child_head} VALUES ({values}) "
            f"RETURNING {quote(link_field.column)}, {quote(child._meta.pk.column)}"
        )
        cached = _WITH_CHILD[key] = (sql, parent_fields, child_fields, link_field)
    return cached


def insert_row_with_child(obj: Model, child: Model, *, link: str) -> None:
    """INSERT ``obj`` and ``child`` (whose foreign key ``link`` points at ``obj``) as two
    ``insert_row`` calls would, in one statement where the database can (PostgreSQL: the
    parent's INSERT in a WITH clause), so a new row and its first history row cost one round
    trip."""
    db = _db()
    if db.vendor != "postgresql":
        insert_row(obj)
        setattr(child, link, obj)
        insert_row(child)
        return
    sql, parent_fields, child_fields, link_field = _insert_with_child_statement(
        type(obj), type(child), link
    )
    params = _params(obj, parent_fields, db)
    params += _params(child, [f for f in child_fields if f is not link_field], db)
    [row] = prepared.execute(sql, params)
    for instance, pk in ((obj, row[0]), (child, row[1])):
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = db.alias
    setattr(child, link, obj)


def lock_statement(sql: str, params: Sequence[Any], *, prepare: bool = False) -> prepared.Statement:
    """``sql`` (a SELECT) locking its rows FOR UPDATE where the database has row locks (SQLite
    serialises writers with its IMMEDIATE transactions instead). ``prepare``: a lookup on every
    column of a unique index, safe to prepare (worklists.prepared)."""
    if _db().features.has_select_for_update:
        sql = f"{sql} FOR UPDATE"
    return prepared.Statement(sql, list(params), prepare=prepare)


def lock_ids(sql: str, params: Sequence[Any], *, prepare: bool = False) -> list[tuple[Any, ...]]:
    """Rows of ``lock_statement(sql, params)``."""
    return prepared.run(lock_statement(sql, params, prepare=prepare))


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


# Returned with each stored row, so that an INSERT run as its own transaction (autocommit)
# commits without waiting for its WAL flush: the same as SET LOCAL synchronous_commit TO OFF in
# a BEGIN ... COMMIT around it, without those three statements.
_COMMIT_WITHOUT_FLUSH = ", set_config('synchronous_commit', 'off', true)"


def _store_rows_statement(
    rows: Sequence[dict[str, Any]], *, without_flush: bool = False
) -> prepared.Statement:
    """One INSERT of the raw messages ``rows`` (``inbound_store``'s keyword arguments each),
    returning their ids; prepared for the batch sizes a listener makes.
    ``without_flush``: its own transaction commits without waiting for the WAL flush."""
    db = _db()
    now = timezone.now()
    messages = [
        InboundMessage(
            channel=row["channel"],
            raw=row["raw"],
            site_id=row.get("site_id"),
            peer=row.get("peer", "")[:100],
            content_type=row.get("content_type", "")[:100],
            message_type=row.get("message_type", "")[:32],
            message_id=row.get("message_id", "")[:100],
            received_at=now,
        )
        for row in rows
    ]
    sql, fields = _insert_statement(InboundMessage)
    params = [value for obj in messages for value in _params(obj, fields, db)]
    head, _, values = sql.partition(" VALUES ")
    placeholders, _, returning = values.partition(" RETURNING ")
    if without_flush:
        returning += _COMMIT_WITHOUT_FLUSH
    return prepared.Statement(
        f"{head} VALUES {', '.join([placeholders] * len(messages))} RETURNING {returning}",
        params,
        prepare=len(messages) <= prepared.PREPARED_BATCH_MAX,
    )


def _stored_ids(rows: list[tuple[Any, ...]]) -> list[int]:
    # Ids come from one sequence in the order the rows are inserted, whatever order RETURNING
    # lists them in.
    return sorted(row[0] for row in rows)


def inbound_store_and_find_applied(
    rows: Sequence[dict[str, Any]],
    *,
    applied_keys: Sequence[tuple[int, str]],
    flushed_by_next_commit: bool = False,
) -> tuple[list[int], dict[tuple[int, str], int]]:
    """Persist several raw messages in one statement (one commit for all of them), each row
    ``inbound_store``'s keyword arguments, and look up ``inbound_applied_many(applied_keys)``.
    Returns the stored ids in the order given, and the earlier applied message of each
    (site id, message id) that has one. On PostgreSQL, outside a transaction, the store and
    the lookup go to the server together (one round trip for all the messages of a listener's
    batch) and commit together: the messages are stored, committed, before anything applies
    them. Should the lookup fail, nothing is stored and nothing is acknowledged; the senders
    keep their messages and send them again.

    ``flushed_by_next_commit``: the caller acknowledges nothing before a later synchronous
    commit of its own, so this commit need not wait for its WAL flush (PostgreSQL
    ``synchronous_commit = off`` for this transaction only). The rows are committed and visible
    at once; they are durable when that later commit is, because a WAL flush covers every
    earlier record. A killed listener loses nothing (the server still flushes them within
    ``wal_writer_delay``); only a server crash in that instant can lose rows, and only of
    messages not yet acknowledged, which their senders therefore send again.
    """
    db = _db()
    lookup = _applied_statement(applied_keys)
    if not rows or db.vendor != "postgresql" or db.in_atomic_block:
        if len(rows) <= 1 or not db.features.can_return_rows_from_bulk_insert:
            ids = [inbound_store(**row).id for row in rows]
        else:
            ids = _stored_ids(prepared.run(_store_rows_statement(rows)))
        return ids, _applied(prepared.run(lookup) if lookup else [])
    store = _store_rows_statement(rows, without_flush=flushed_by_next_commit)
    if lookup is None:
        return _stored_ids(prepared.run(store)), {}
    stored, applied = prepared.execute_together([store, lookup])
    return _stored_ids(stored), _applied(applied)


def _applied_statement(keys: Sequence[tuple[int, str]]) -> prepared.Statement | None:
    wanted = sorted({key for key in keys if key[1]})
    if not wanted:
        return None
    matches = " OR ".join(["(site_id = %s AND message_id = %s)"] * len(wanted))
    return prepared.Statement(
        f"SELECT site_id, message_id, MIN(id) FROM {InboundMessage._meta.db_table} "  # noqa: S608
        f"WHERE status = %s AND ({matches}) GROUP BY site_id, message_id",
        [InboundMessage.Status.APPLIED.value, *(part for key in wanted for part in key)],
    )


def _applied(rows: list[tuple[Any, ...]]) -> dict[tuple[int, str], int]:
    return {(site_id, message_id): first for site_id, message_id, first in rows}


def inbound_applied_many(keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """For each (site id, message id) an applied message of that sender has, its first id
    (one statement for a whole batch of received messages)."""
    lookup = _applied_statement(keys)
    return _applied(prepared.run(lookup)) if lookup else {}


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


def inbound_mark_failed(*, inbound_id: int, error: str) -> bool:
    """Record a failure: a compare-and-set that moves only a message not applied (RECEIVED, or
    FAILED again) to FAILED. An APPLIED (or DUPLICATE) message keeps its status, whatever a
    late failure path says. Returns whether the row was marked."""
    updated = InboundMessage.objects.filter(
        id=inbound_id,
        status__in=(InboundMessage.Status.RECEIVED, InboundMessage.Status.FAILED),
    ).update(status=InboundMessage.Status.FAILED, error=error, processed_at=timezone.now())
    return bool(updated)


class InboundAlreadyApplied(Exception):
    """Another worker applied this message first (recovery racing the listener, or a double
    reprocess): the caller's transaction must roll back so the change is made once."""


def _no_applied_repeat(table: str) -> str:
    """SQL condition on ``table``'s row: no other message of its sender with its (non-empty)
    message id is applied. Evaluated by the marking UPDATE itself, i.e. after every lock the
    applying transaction took: a copy of the same message applied by another transaction that
    touched the same rows has committed by then and is seen (READ COMMITTED: each statement
    sees what committed before it)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM {table} other WHERE other.site_id = {table}.site_id "  # noqa: S608
        f"AND other.message_id = {table}.message_id AND {table}.message_id <> '' "
        f"AND other.status = %s AND other.id <> {table}.id)"
    )


def inbound_mark_applied(
    *, inbound_id: int, study_id: int | None, unless_repeat: bool = False
) -> None:
    """Called inside the applying transaction, so 'applied' commits with the change itself.

    A compare-and-set: only a message not yet applied can be marked, so whoever applies a
    message second rolls back instead of applying it twice. ``unless_repeat``: nor can a
    message whose sender's message id another applied message has (a resent copy applied
    concurrently).
    """
    table = InboundMessage._meta.db_table
    repeat = f" AND {_no_applied_repeat(table)}" if unless_repeat else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} "  # noqa: S608 - our table name
            "SET status = %s, error = '', processed_at = %s, study_id = %s "
            f"WHERE id = %s AND status IN (%s, %s){repeat}",
            [
                InboundMessage.Status.APPLIED.value,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                study_id,
                inbound_id,
                InboundMessage.Status.RECEIVED.value,
                InboundMessage.Status.FAILED.value,
                *([InboundMessage.Status.APPLIED.value] if unless_repeat else []),
            ],
        )
        updated = cursor.rowcount
    if not updated:
        raise InboundAlreadyApplied(f"inbound message {inbound_id} was applied already")


def inbound_mark_applied_many(
    applied: Sequence[tuple[int, int | None]], *, unless_repeat: bool = False
) -> set[int]:
    """``inbound_mark_applied`` for a batch, (inbound id, study id) each, in one statement.
    Returns the ids it could NOT mark (applied by someone else first, or with
    ``unless_repeat`` a copy of them was): the caller must roll back and apply the batch again
    without them."""
    if not applied:
        return set()
    if len(applied) == 1 or connection.vendor != "postgresql":
        missed = set()
        for inbound_id, study_id in applied:
            try:
                inbound_mark_applied(
                    inbound_id=inbound_id, study_id=study_id, unless_repeat=unless_repeat
                )
            except InboundAlreadyApplied:
                missed.add(inbound_id)
        return missed
    table = InboundMessage._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[Any] = [InboundMessage.Status.APPLIED.value, now]
    for inbound_id, study_id in applied:
        params += [inbound_id, study_id]
    params += [InboundMessage.Status.RECEIVED.value, InboundMessage.Status.FAILED.value]
    repeat = ""
    if unless_repeat:
        repeat = f" AND {_no_applied_repeat(table)}"
        params.append(InboundMessage.Status.APPLIED.value)
    # The first row's casts type the VALUES list (a NULL study id alone would be text).
    rows = ", ".join(
        ["(CAST(%s AS bigint), CAST(%s AS bigint))"] + ["(%s, %s)"] * (len(applied) - 1)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, error = '', processed_at = %s, "  # noqa: S608
            "study_id = batch.study_id "
            f"FROM (VALUES {rows}) AS batch (id, study_id) "
            f"WHERE {table}.id = batch.id AND {table}.status IN (%s, %s){repeat} "
            f"RETURNING {table}.id",
            params,
        )
        marked = {row[0] for row in cursor.fetchall()}
    return {inbound_id for inbound_id, _study_id in applied} - marked


def inbound_mark_duplicate(*, inbound_id: int, original_id: int) -> None:
    """A repeat of an applied message (same sender, same message id): kept, changes nothing."""
    InboundMessage.objects.filter(id=inbound_id).update(
        status=InboundMessage.Status.DUPLICATE,
        error=f"duplicate of message {original_id}",
        processed_at=timezone.now(),
    )
