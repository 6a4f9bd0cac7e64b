"""`manage.py hl7_listener`: the HL7 v2 MLLP listener as its own process (production)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from hl7_interface.listener import serve


class Command(BaseCommand):
    help = "Receive HL7 v2 orders and patient updates over MLLP; ACK after commit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.HL7_LISTENER_HOST)
        parser.add_argument("--port", type=int, default=settings.HL7_LISTENER_PORT)
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.HL7_WORKERS,
            help="Threads applying messages (database connections).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())

        def ready(port: int) -> None:
            self.stdout.write(f"HL7 listener on {options['host']}:{port}")
            self.stdout.flush()

        serve(
            host=options["host"],
            port=options["port"],
            stop=stop,
            workers=options["workers"],
            on_ready=ready,
        )
