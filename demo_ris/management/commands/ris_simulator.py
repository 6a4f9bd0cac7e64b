"""`manage.py ris_simulator`: a site's RIS on this machine. Sends realistic synthetic orders to
the HL7 listener and takes ORU results back, acknowledging each, so the whole loop can be shown
(and scripted) on one machine. A test tool: it lives in the demo_ris app, not in the product."""

from __future__ import annotations

import dataclasses
import random
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo_ris.orders import omi_o23, orm_o01, random_order
from demo_ris.receiver import ResultReceiver
from hl7_interface.client import MllpClient, MllpError
from hl7_interface.codec import parse
from hl7_interface.models import SiteHl7Config
from hl7_interface.services import hl7_site_configure
from worklists.models import Site


class Command(BaseCommand):
    help = "Simulate a site's RIS: send orders over MLLP, receive and acknowledge ORU results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="Site code; MSH-4 is its HL7 facility.")
        parser.add_argument("--send-orders", type=int, default=0, metavar="N")
        parser.add_argument("--host", default=settings.HL7_LISTENER_HOST, help="Listener host.")
        parser.add_argument("--port", type=int, default=settings.HL7_LISTENER_PORT)
        parser.add_argument("--omi", action="store_true", help="Send OMI^O23 v2.5.1, not ORM^O01.")
        parser.add_argument("--hl7-version", default="2.3", help="ORM^O01 version (2.3-2.5).")
        parser.add_argument(
            "--charset", default="UNICODE UTF-8", choices=["UNICODE UTF-8", "8859/1"]
        )
        parser.add_argument(
            "--complete-exams",
            action="store_true",
            help="After each new order, report the examination done (SC, ORC-5 CM): images ready.",
        )
        parser.add_argument("--accession-prefix", default="")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--listen-port",
            type=int,
            default=None,
            help="Receive results on this port (0: any free port). The site's RIS endpoint is "
            "set to it while the simulator runs, so results of this site come here; the "
            "endpoint it had before is put back on exit.",
        )
        parser.add_argument("--listen-host", default="127.0.0.1")
        parser.add_argument("--exit-after-results", type=int, default=None, metavar="N")
        parser.add_argument("--timeout", type=float, default=None, help="Give up after seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(code=options["site"]).first()
        if site is None or not site.hl7_sending_facility:
            raise CommandError(f"no site {options['site']!r} with an HL7 sending facility")
        receiver = None
        previous: tuple[str, int | None] = ("", None)
        if options["listen_port"] is not None:
            config = SiteHl7Config.objects.filter(site=site).first()
            if config is not None:
                previous = (config.ris_host, config.ris_port)
            receiver = ResultReceiver(host=options["listen_host"], port=options["listen_port"])
            hl7_site_configure(site_id=site.id, ris_host=receiver.host, ris_port=receiver.port)
            self._say(f"RIS listening for results on {receiver.host}:{receiver.port}")
        try:
            if options["send_orders"]:
                self._send_orders(site.hl7_sending_facility, options)
            if receiver is not None:
                self._receive(receiver, options)
        finally:
            if receiver is not None:
                receiver.close()
                # Results sent after this would go to a closed port and retry towards
                # dead-letter; the endpoint the site had (e.g. the demo's RIS) takes them again.
                self._restore(site.id, receiver, previous)

    def _restore(
        self, site_id: int, receiver: ResultReceiver, previous: tuple[str, int | None]
    ) -> None:
        host, port = previous
        still_ours = SiteHl7Config.objects.filter(
            site_id=site_id, ris_host=receiver.host, ris_port=receiver.port
        ).exists()
        if still_ours:  # someone who re-pointed the site meanwhile keeps their choice
            hl7_site_configure(site_id=site_id, ris_host=host, ris_port=port)
            self._say(f"RIS endpoint of the site back to {f'{host}:{port}' if host else 'none'}")

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _send_orders(self, facility: str, options: dict[str, Any]) -> None:
        rng = random.Random(options["seed"])  # noqa: S311 - synthetic test data
        prefix = options["accession_prefix"] or f"SIM{int(time.time())}-"
        try:
            client = MllpClient(options["host"], options["port"])
        except MllpError as exc:
            raise CommandError(str(exc)) from exc
        with client:
            for number in range(1, options["send_orders"] + 1):
                spec = random_order(rng, accession=f"{prefix}{number}")
                if options["omi"]:
                    message = omi_o23(spec, facility=facility, charset=options["charset"])
                else:
                    message = orm_o01(
                        spec,
                        facility=facility,
                        version=options["hl7_version"],
                        charset=options["charset"],
                    )
                ack = client.send_message(message)
                self._say(f"ORDER {spec.accession} {ack.code} {ack.text}".rstrip())
                if options["complete_exams"]:
                    done = dataclasses.replace(spec, control="SC", order_status="CM")
                    ack = client.send_message(
                        orm_o01(
                            done,
                            facility=facility,
                            version=options["hl7_version"],
                            charset=options["charset"],
                        )
                    )
                    self._say(f"EXAM DONE {spec.accession} {ack.code} {ack.text}".rstrip())

    def _receive(self, receiver: ResultReceiver, options: dict[str, Any]) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        wanted = options["exit_after_results"]
        deadline = time.monotonic() + options["timeout"] if options["timeout"] else None
        shown = 0
        while not stop.is_set():
            arrived = receiver.wait_for(shown + 1, timeout=0.5)
            for result in arrived[shown:]:
                self._show(result.raw)
            shown = len(arrived)
            if wanted is not None and shown >= wanted:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise CommandError(f"timed out with {shown} results received")

    def _show(self, raw: bytes) -> None:
        message = parse(raw)
        obr = message.first("OBR")
        accession = obr.text(18) if obr else ""
        status = obr.text(25) if obr else ""
        self._say(f"RESULT {message.msh.raw(9)} {message.control_id} {accession} {status}")
        for line in raw.decode(message.encoding).split("\r"):
            if line:
                self._say(f"  {line}")
