"""Live updates: the one way a study change reaches the pages that show it.

How it works (docs/live-updates.md tells the same for a reader of the product):

1. A service that changes a study calls ``broadcast_after_commit`` (or
   ``broadcast_many_after_commit`` for several studies at once) inside its transaction. Nothing
   is sent then: the change is registered with ``transaction.on_commit``, so a rolled-back
   transaction sends nothing.
2. After commit the change goes to this process's ``LiveBroadcaster``. With
   ``LIVE_BATCH_SECONDS`` above 0 (the default) the commit only appends it to a list: the hot
   paths (read next, a push, an HL7 batch) pay a lock and an append, nothing more. The
   broadcaster's own thread collects changes for that interval and sends the batch in one pass.
   With 0 each change is sent at once, from the committing thread.
3. Sending is ``group_send`` on the Channels layer (the in-memory layer on the embedded default,
   channels-redis when ``REDIS_URL`` is set) to the group of the study's site and to the group of
   every site. Messages carry ids, a status and a time, never patient data.
4. ``worklists.consumers.WorklistConsumer`` joins the groups its user may read
   (``worklists.access.visible_site_ids``: a reader their credentialed sites, a site user their
   site, a coordinator every site) and forwards each message to the socket.
5. The page asks the server for the changed study's row (scoped and audited like any read) and
   swaps it in. A client that was disconnected sends the time of the last message it saw and
   gets the ids of the studies changed since (from the study events), or is told to refetch.
6. A change that is no one study's (a coordinator's surge started or ended) goes the same way,
   after commit and through the broadcaster, with ``notify_everyone_after_commit``: to the
   group every socket joins (``EVERYONE_GROUP``), carrying an id, never patient data; the page
   refetches what shows it.

The in-memory layer lives in one event loop: the server's. The consumer tells this module which
loop that is, and the broadcaster sends there, so that a waiting socket wakes at once.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

ALL_SITES_GROUP = "worklist.all"
EVERYONE_GROUP = "worklist.everyone"  # every socket: changes that are no one study's
MESSAGE_TYPE = "study.event"  # routed to WorklistConsumer.study_event
NOTICE_TYPE = "live.notice"  # routed to WorklistConsumer.live_notice


def site_group(site_id: int) -> str:
    return f"worklist.site.{site_id}"


def now_ms() -> int:
    """The live cursor: milliseconds since the epoch, as the pages and the resync request use."""
    return int(time.time() * 1000)


# --- after commit ------------------------------------------------------------------------------


def broadcast_after_commit(*, study_id: int, site_id: int, event: str, status: str = "") -> None:
    """Tell the pages that ``study_id`` changed, once the current transaction commits."""
    broadcast_many_after_commit(studies=[(study_id, site_id)], event=event, status=status)


def broadcast_many_after_commit(
    *, studies: Sequence[tuple[int, int]], event: str, status: str = ""
) -> None:
    """The same event for several (study id, site id) pairs, with one commit hook for all."""
    if not studies:
        return
    pairs = list(studies)

    def hand_over() -> None:
        at = now_ms()
        broadcaster().add(
            [
                {"study_id": s, "site_id": site, "event": event, "status": status, "at": at}
                for s, site in pairs
            ]
        )

    # A lost live update must not turn a committed change into a reported failure.
    transaction.on_commit(hand_over, robust=True)


def notify_everyone_after_commit(*, event: str, data: Mapping[str, int]) -> None:
    """Tell every live page of a change that is no one study's (``event``, with ids in
    ``data``), once the current transaction commits; a rolled-back one sends nothing."""
    payload = dict(data)

    def hand_over() -> None:
        broadcaster().add(
            [{"groups": [EVERYONE_GROUP], "event": event, "data": payload, "at": now_ms()}]
        )

    transaction.on_commit(hand_over, robust=True)


# --- the server's event loop -------------------------------------------------------------------

_server_loop: asyncio.AbstractEventLoop | None = None


def attach_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the consumer: the loop its sockets wait in (where in-memory messages must go)."""
    global _server_loop
    _server_loop = loop


def _running_server_loop() -> asyncio.AbstractEventLoop | None:
    loop = _server_loop
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


async def _send(changes: Sequence[dict[str, Any]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for change in changes:
        if "groups" in change:  # a notice (notify_everyone_after_commit)
            notice = {"type": NOTICE_TYPE, "event": change["event"], "at": change["at"]}
            for group in change["groups"]:
                await layer.group_send(group, {**notice, "data": change["data"]})
            continue
        message = {
            "type": MESSAGE_TYPE,
            "event": change["event"],
            "study_id": change["study_id"],
            "status": change["status"],
            "at": change["at"],
        }
        for group in (site_group(change["site_id"]), ALL_SITES_GROUP):
            await layer.group_send(group, message)


def send_now(
    changes: Sequence[dict[str, Any]], *, own_loop: asyncio.AbstractEventLoop | None = None
) -> None:
    """Send ``changes`` from a synchronous caller, on the server's loop when there is one, else
    on ``own_loop`` (the broadcaster's, kept so that a Redis connection is reused)."""
    if not changes:
        return
    loop = _running_server_loop()
    if loop is None:
        if own_loop is not None:
            own_loop.run_until_complete(_send(changes))
        else:
            async_to_sync(_send)(changes)
        return
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    if current is loop:  # called from code running in the loop itself: cannot wait for it
        loop.create_task(_send(changes))
        return
    asyncio.run_coroutine_threadsafe(_send(changes), loop).result(timeout=10)


# --- the batching broadcaster ------------------------------------------------------------------


class LiveBroadcaster:
    """This process's outbox of committed study changes (one per process, see ``broadcaster``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, changes: list[dict[str, Any]]) -> None:
        if settings.LIVE_BATCH_SECONDS <= 0 or self._closed:
            self._deliver(changes)
            return
        with self._lock:
            self._pending += changes
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="live-updates", daemon=True)
                self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        """Send what is waiting now, from this thread (tests, shutdown)."""
        with self._lock:
            changes, self._pending = self._pending, []
        self._deliver(changes)

    def _flush_from_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            changes, self._pending = self._pending, []
        self._deliver(changes, own_loop=loop)

    def close(self) -> None:
        self._closed = True
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        # In a process without a server loop (a worker, a listener) the batches go out on this
        # thread's own loop, one for the thread's life.
        loop = asyncio.new_event_loop()
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed:
                    return
                # The burst that woke us (a shift starting, an HL7 batch) goes out as one pass.
                self._closing.wait(max(settings.LIVE_BATCH_SECONDS, 0))
                self._flush_from_thread(loop)
        finally:
            loop.close()

    @staticmethod
    def _deliver(
        changes: list[dict[str, Any]], *, own_loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        if not changes:
            return
        try:
            send_now(changes, own_loop=own_loop)
        except Exception:
            # Live updates are a convenience (pages resync on reconnect): never fail the caller.
            logger.exception("could not send %d study changes", len(changes))


_broadcaster_lock = threading.Lock()
_broadcaster: LiveBroadcaster | None = None


def broadcaster() -> LiveBroadcaster:
    global _broadcaster
    with _broadcaster_lock:
        if _broadcaster is None:
            _broadcaster = LiveBroadcaster()
            atexit.register(_broadcaster.close)
        return _broadcaster


def flush() -> None:
    """Send the changes this process has collected but not sent yet."""
    broadcaster().flush()
