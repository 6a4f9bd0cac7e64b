"""`manage.py dicom_scp`: the DICOM receiver as its own process."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from dicom.scp import receiver_from_settings


class Command(BaseCommand):
    help = "Receive DICOM instances (C-ECHO, C-STORE) from the sites' PACS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.DICOM_PORT)
        parser.add_argument("--ae-title", default=settings.DICOM_AE_TITLE)

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        receiver = receiver_from_settings(port=options["port"], ae_title=options["ae_title"])
        port = receiver.start()
        self.stdout.write(f"DICOM receiver {receiver.ae_title} listening on port {port}")
        try:
            stop.wait()
        finally:
            receiver.stop()
            self.stdout.write("DICOM receiver stopped")
