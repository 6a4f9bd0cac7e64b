"""Live updates: after commit, tell the sockets watching a site that one of its studies changed.

Events carry ids and types only; clients refetch through the scoped API.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

ALL_SITES_GROUP = "worklist.all"


def site_group(site_id: int) -> str:
    return f"worklist.site.{site_id}"


def broadcast_after_commit(*, study_id: int, site_id: int, event: str, status: str = "") -> None:
    from worklists.tasks import broadcast_study_event

    transaction.on_commit(
        lambda: broadcast_study_event.delay(
            study_id=study_id, site_id=site_id, event=event, status=status
        ),
        # A lost live update must not turn a committed change into a reported failure.
        robust=True,
    )


class StudyEventBatcher:
    """Study events batched: one broadcast task per interval, not per event.

    At hundreds of orders or claims a second a task per event costs a broker round trip each;
    the sockets only need to hear "refetch" soon, so events are collected for a short interval
    and sent as one (the HL7 listener and read next use it).
    """

    def __init__(self, *, interval: float = 0.2) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, *, study_id: int, site_id: int, event: str, status: str) -> None:
        self.add_many(studies=[(study_id, site_id)], event=event, status=status)

    def add_many(self, *, studies: Sequence[tuple[int, int]], event: str, status: str) -> None:
        """The same event for several (study id, site id) pairs."""
        with self._lock:
            self._events += [
                {"study_id": study_id, "site_id": site_id, "event": event, "status": status}
                for study_id, site_id in studies
            ]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="study-events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        from worklists.tasks import broadcast_study_events

        with self._lock:
            events, self._events = self._events, []
        if not events:
            return
        try:
            broadcast_study_events.delay(events=events)
        except Exception:
            # Live updates are a convenience (clients also poll): never fail the listener.
            logger.exception("could not send %d study events", len(events))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()


_routing_batcher_lock = threading.Lock()
_routing_batcher: StudyEventBatcher | None = None


def routing_batcher() -> StudyEventBatcher | None:
    """This process's batcher of routing events (read next, push), or None when
    ROUTING_BROADCAST_BATCH_SECONDS is 0 (each event sent on its own)."""
    global _routing_batcher
    interval = settings.ROUTING_BROADCAST_BATCH_SECONDS
    if interval <= 0:
        return None
    with _routing_batcher_lock:
        if _routing_batcher is None:
            _routing_batcher = StudyEventBatcher(interval=interval)
            atexit.register(_routing_batcher.close)
        return _routing_batcher


def broadcast_batched_after_commit(
    *, study_id: int, site_id: int, event: str, status: str = ""
) -> None:
    """``broadcast_after_commit`` through this process's routing batcher: a claim or a push
    does not wait for a broker round trip of its own, and a burst of them (a shift starting,
    readers pressing "read next") is one task per ROUTING_BROADCAST_BATCH_SECONDS."""
    broadcast_many_batched_after_commit(studies=[(study_id, site_id)], event=event, status=status)


def broadcast_many_batched_after_commit(
    *, studies: Sequence[tuple[int, int]], event: str, status: str = ""
) -> None:
    """The same for several (study id, site id) pairs, with one commit hook for all."""
    if not studies:
        return
    batcher = routing_batcher()
    if batcher is None:
        for study_id, site_id in studies:
            broadcast_after_commit(study_id=study_id, site_id=site_id, event=event, status=status)
        return
    transaction.on_commit(
        functools.partial(batcher.add_many, studies=studies, event=event, status=status),
        robust=True,
    )
