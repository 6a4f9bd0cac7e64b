"""Inbound messages are written down first, in their own transaction, then applied."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, Exists, Min, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from worklists import queries
from worklists.models import InboundMessage


def storable_text(value: str, limit: int | None = None) -> str:
    """``value`` as a text column can hold it: a NUL character (which PostgreSQL's text
    refuses, and a sender's bytes may hold anywhere) shown as U+FFFD, cut to ``limit``. The
    raw bytes keep the original; this is only what the columns read from it show."""
    shown = value.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    return shown if limit is None else shown[:limit]


def _message(now: dt.datetime, row: dict[str, Any]) -> InboundMessage:
    return InboundMessage(
        channel=row["channel"],
        raw=row["raw"],
        site_id=row.get("site_id"),
        peer=storable_text(row.get("peer", ""), 100),
        content_type=storable_text(row.get("content_type", ""), 100),
        message_type=storable_text(row.get("message_type", ""), 32),
        message_id=storable_text(row.get("message_id", ""), 100),
        received_at=now,
    )


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
    row = {
        "channel": channel,
        "raw": raw,
        "site_id": site_id,
        "peer": peer,
        "content_type": content_type,
        "message_type": message_type,
        "message_id": message_id,
    }
    message = _message(timezone.now(), row)
    message.save(force_insert=True)
    return message


def inbound_store_and_find_applied(
    rows: Sequence[dict[str, Any]],
    *,
    applied_keys: Sequence[tuple[int, str]],
    flushed_by_next_commit: bool = False,
) -> tuple[list[int], dict[tuple[int, str], int]]:
    """Persist several raw messages (one commit for all of them), each row ``inbound_store``'s
    keyword arguments, and look up ``inbound_applied_many(applied_keys)``. Returns the stored
    ids in the order given, and the earlier applied message of each (site id, message id)
    that has one. Outside a transaction the store and the lookup commit together: the messages
    are stored, committed, before anything applies them. Should the lookup fail, nothing is
    stored and nothing is acknowledged; the senders keep their messages and send them again.

    ``flushed_by_next_commit``: the caller acknowledges nothing before a later synchronous
    commit of its own, so this commit need not wait for its WAL flush (PostgreSQL
    ``synchronous_commit = off`` for this transaction only). The rows are committed and visible
    at once; they are durable when that later commit is, because a WAL flush covers every
    earlier record. A killed listener loses nothing (the server still flushes them within
    ``wal_writer_delay``); only a server crash in that instant can lose rows, and only of
    messages not yet acknowledged, which their senders therefore send again.
    """
    if connection.in_atomic_block:
        return _store(rows), inbound_applied_many(applied_keys)
    with transaction.atomic():
        if flushed_by_next_commit:
            queries.commit_without_flush()
        return _store(rows), inbound_applied_many(applied_keys)


def _store(rows: Sequence[dict[str, Any]]) -> list[int]:
    now = timezone.now()
    stored = InboundMessage.objects.bulk_create([_message(now, row) for row in rows])
    return [message.id for message in stored]


def inbound_applied_many(keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """For each (site id, message id) an applied message of that sender has, its first id
    (one statement for a whole batch of received messages)."""
    # Looked up as stored (storable_text), answered by the keys as given.
    wanted = {
        (site_id, storable_text(message_id, 100)): (site_id, message_id)
        for site_id, message_id in keys
        if message_id
    }
    if not wanted:
        return {}
    matches = functools.reduce(
        operator.or_,
        (Q(site_id=site_id, message_id=message_id) for site_id, message_id in sorted(wanted)),
    )
    return {
        wanted[(row["site_id"], row["message_id"])]: row["first"]
        for row in InboundMessage.objects.filter(matches, status=InboundMessage.Status.APPLIED)
        .values("site_id", "message_id")
        .annotate(first=Min("id"))
        .order_by()
    }


class InboundAlreadyApplied(Exception):
    """Another worker applied this message first (recovery racing the listener, or a double
    reprocess): the caller's transaction must roll back so the change is made once."""


def _not_yet_applied(
    inbound_ids: Sequence[int], *, unless_repeat: bool
) -> QuerySet[InboundMessage]:
    """The messages of ``inbound_ids`` not applied yet (RECEIVED, or FAILED before) and, with
    ``unless_repeat``, whose sender's (non-empty) message id no other applied message has.
    Evaluated by the marking UPDATE itself, i.e. after every lock the applying transaction took:
    a copy of the same message applied by another transaction that touched the same rows has
    committed by then and is seen (READ COMMITTED: each statement sees what committed before
    it)."""
    pending = InboundMessage.objects.filter(
        id__in=inbound_ids,
        status__in=(InboundMessage.Status.RECEIVED, InboundMessage.Status.FAILED),
    )
    if unless_repeat:
        applied_copy = InboundMessage.objects.filter(
            site_id=OuterRef("site_id"),
            message_id=OuterRef("message_id"),
            status=InboundMessage.Status.APPLIED,
        ).exclude(id=OuterRef("id"))
        pending = pending.filter(Q(message_id="") | ~Exists(applied_copy))
    return pending


def inbound_mark_applied(
    *, inbound_id: int, study_id: int | None, unless_repeat: bool = False
) -> None:
    """Called inside the applying transaction, so 'applied' commits with the change itself.

    A compare-and-set: only a message not yet applied can be marked, so whoever applies a
    message second rolls back instead of applying it twice. ``unless_repeat``: nor can a
    message whose sender's message id another applied message has (a resent copy applied
    concurrently).
    """
    updated = _not_yet_applied([inbound_id], unless_repeat=unless_repeat).update(
        status=InboundMessage.Status.APPLIED,
        error="",
        processed_at=timezone.now(),
        study_id=study_id,
    )
    if not updated:
        raise InboundAlreadyApplied(f"inbound message {inbound_id} was applied already")
    return None


def inbound_mark_applied_many(
    applied: Sequence[tuple[int, int | None]], *, unless_repeat: bool = False
) -> set[int]:
    """``inbound_mark_applied`` for a batch, (inbound id, study id) each, in two statements
    whatever its size: the messages that may still be marked are locked, then marked. Returns
    the ids it could NOT mark (applied by someone else first, or with ``unless_repeat`` a copy
    of them was): the caller must roll back and apply the batch again without them."""
    if not applied:
        return set()
    if len(applied) == 1:
        [(inbound_id, study_id)] = applied
        try:
            inbound_mark_applied(
                inbound_id=inbound_id, study_id=study_id, unless_repeat=unless_repeat
            )
        except InboundAlreadyApplied:
            return {inbound_id}
        return set()
    study_of = dict(applied)
    # The condition is evaluated as each row's lock is taken (a row changed meanwhile is
    # checked again), as the marking UPDATE of one message evaluates it.
    with transaction.atomic(savepoint=False):  # the caller's transaction, or one of its own
        markable = set(
            _not_yet_applied(list(study_of), unless_repeat=unless_repeat)
            .select_for_update()
            .order_by("id")
            .values_list("id", flat=True)
        )
        if markable:
            InboundMessage.objects.filter(id__in=markable).update(
                status=InboundMessage.Status.APPLIED,
                error="",
                processed_at=timezone.now(),
                # typed: a CASE of NULLs alone would be text
                study_id=Cast(
                    Case(
                        *(
                            When(id=inbound_id, then=Value(study_of[inbound_id]))
                            for inbound_id in markable
                        )
                    ),
                    BigIntegerField(),
                ),
            )
    return set(study_of) - markable


def inbound_mark_failed(*, inbound_id: int, error: str) -> bool:
    """Record a failure: a compare-and-set that moves only a message not applied (RECEIVED, or
    FAILED again) to FAILED. An APPLIED (or DUPLICATE) message keeps its status, whatever a
    late failure path says. Returns whether the row was marked."""
    updated = InboundMessage.objects.filter(
        id=inbound_id,
        status__in=(InboundMessage.Status.RECEIVED, InboundMessage.Status.FAILED),
    ).update(
        status=InboundMessage.Status.FAILED,
        error=storable_text(error),
        processed_at=timezone.now(),
    )
    return bool(updated)


def inbound_mark_duplicate(*, inbound_id: int, original_id: int) -> None:
    """A repeat of an applied message (same sender, same message id): kept, changes nothing."""
    InboundMessage.objects.filter(id=inbound_id).update(
        status=InboundMessage.Status.DUPLICATE,
        error=f"duplicate of message {original_id}",
        processed_at=timezone.now(),
    )
