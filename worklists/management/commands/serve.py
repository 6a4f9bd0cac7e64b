"""Run the whole system in one process: the ASGI web server (HTTP and WebSocket), and on the
embedded default the periodic tasks and receivers too (teleradiology/embedded.py).

In the embedded default (no REDIS_URL) background tasks run in-process, so this one command is
the complete system. In production, run the processes separately (docs/operations.md).
"""

from __future__ import annotations

import threading
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from teleradiology.embedded import browser_url, start_embedded_services


class Command(BaseCommand):
    help = "Serve HTTP and WebSocket on one port (ASGI), with in-process workers when embedded."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="Web worker processes.")

    def handle(self, *args: Any, **options: Any) -> None:
        embedded = settings.CELERY_TASK_ALWAYS_EAGER
        mode = "embedded" if embedded else "with external workers"
        # The address actually served (`make run PORT=8300` serves 8300), printed before uvicorn
        # takes over the console.
        url = browser_url(options["host"], options["port"])
        wildcard = options["host"] in {"", "0.0.0.0", "::"}  # noqa: S104
        listening = f", listening on {options['host'] or 'every address'}" if wildcard else ""
        self.stdout.write(
            f"Teleradiology serving on {url}/ ({mode}{listening}, "
            f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})"
        )
        self.stdout.flush()
        stop = threading.Event()
        if embedded:
            start_embedded_services(stop)
        try:
            self._serve_web(options)
        finally:
            stop.set()

    def _serve_web(self, options: dict[str, Any]) -> None:
        uvicorn.run(
            "teleradiology.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            lifespan="off",
            log_level="info",
        )
