"""Study events from the listener, batched: one broadcast task per interval, not per order.

At hundreds of orders a second a task per event costs a broker round trip each; the sockets
only need to hear "refetch" soon, so events are collected for a short interval and sent as one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)


class StudyEventBatcher:
    def __init__(self, *, interval: float = 0.2) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, *, study_id: int, site_id: int, event: str, status: str) -> None:
        with self._lock:
            self._events.append(
                {"study_id": study_id, "site_id": site_id, "event": event, "status": status}
            )
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hl7-study-events", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        from hl7_interface.tasks import broadcast_study_events

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
