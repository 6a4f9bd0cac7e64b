"""`manage.py hl7_listener`: the HL7 v2 MLLP listener as its own process (production).

With ``--processes N`` it starts N listener processes on the same port (SO_REUSEPORT); the
kernel spreads connections over them, so ingest scales with cores (one process is bound by one
core: the ORM work per message is Python).
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

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
            help="Threads applying messages (database connections) per process.",
        )
        parser.add_argument("--processes", type=int, default=1)
        parser.add_argument("--reuse-port", action="store_true", help=argparse_suppress())

    def handle(self, *args: Any, **options: Any) -> None:
        default = connections["default"]
        if default.vendor == "postgresql" and settings.HL7_LISTENER_SERVER_SIDE_BINDING:
            # Server-side binding: values travel apart from the statements instead of being
            # quoted into their text (measured: about a quarter more orders per second).
            default.settings_dict.setdefault("OPTIONS", {})["server_side_binding"] = True
        if options["processes"] > 1:
            self._supervise(options)
            return
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
            reuse_port=options["reuse_port"],
            on_ready=ready,
        )

    def _supervise(self, options: dict[str, Any]) -> None:
        # Hold the port (bound, not listening) so port 0 means one port for all processes.
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((options["host"], options["port"]))
        port = holder.getsockname()[1]
        command = [
            sys.executable,
            sys.argv[0],
            "hl7_listener",
            f"--host={options['host']}",
            f"--port={port}",
            f"--workers={options['workers']}",
            "--reuse-port",
        ]
        children = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
            for _ in range(options["processes"])
        ]

        def forward(signum: int, _frame: object) -> None:
            for child in children:
                child.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, forward)
        for child in children:
            assert child.stdout is not None
            if not child.stdout.readline():
                forward(signal.SIGTERM, None)
                raise CommandError("a listener process did not start")
        holder.close()
        self.stdout.write(f"HL7 listener on {options['host']}:{port} ({len(children)} processes)")
        self.stdout.flush()
        codes = [child.wait() for child in children]
        if any(codes):
            raise CommandError(f"listener processes exited with {codes}")


def argparse_suppress() -> str:
    return argparse.SUPPRESS
