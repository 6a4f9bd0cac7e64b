"""The in-process side of the embedded default: what separate processes do in production.

In production Celery beat fires the periodic tasks and the HL7 listener and DICOM receiver run as
their own processes. On the embedded default `manage.py serve` runs them here, in daemon threads,
so one command is the whole system.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from teleradiology.celery import app

logger = logging.getLogger(__name__)

EmbeddedService = Callable[[threading.Event], None]


def browser_url(host: str, port: int) -> str:
    """The address to open for a web server listening on ``host:port``. A wildcard address is
    where it listens, not where a browser can go: it is shown as this machine's loopback."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    if ":" in shown:  # an IPv6 literal goes in brackets in a URL
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _interval_seconds(entry: dict[str, Any]) -> float:
    schedule = entry["schedule"]
    if isinstance(schedule, int | float):
        return float(schedule)
    return float(schedule.total_seconds())


def run_periodic_tasks(stop: threading.Event) -> None:
    """Fire each CELERY_BEAT_SCHEDULE entry at its interval until `stop` is set."""
    app.loader.import_default_modules()  # registers every app's tasks, as a worker would
    schedule: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
    next_run = {name: time.monotonic() + _interval_seconds(e) for name, e in schedule.items()}
    while not stop.is_set():
        now = time.monotonic()
        for name, entry in schedule.items():
            if now < next_run[name]:
                continue
            next_run[name] = now + _interval_seconds(entry)
            try:
                # Eager on the embedded default: the task runs here, in this thread.
                app.tasks[entry["task"]].apply_async(args=entry.get("args", ()))
            except Exception:
                logger.exception("periodic task %s failed", name)
            finally:
                close_old_connections()
        soonest = min([*(t - time.monotonic() for t in next_run.values()), 1.0])
        stop.wait(max(soonest, 0.05))


def _load(path: str) -> EmbeddedService:
    module_name, _, attribute = path.rpartition(".")
    service: EmbeddedService = getattr(importlib.import_module(module_name), attribute)
    return service


def start_embedded_services(stop: threading.Event) -> list[threading.Thread]:
    """Start the periodic tasks and every EMBEDDED_SERVICES entry, each in a daemon thread."""
    services: list[tuple[str, EmbeddedService]] = [("periodic tasks", run_periodic_tasks)]
    services += [(path, _load(path)) for path in settings.EMBEDDED_SERVICES]
    threads = []
    for name, service in services:
        thread = threading.Thread(
            target=_guarded, args=(name, service, stop), name=name, daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def _guarded(name: str, service: EmbeddedService, stop: threading.Event) -> None:
    try:
        service(stop)
    except Exception:
        # A receiver that cannot bind its port must not take the web server down with it.
        logger.exception("embedded service %s stopped", name)
