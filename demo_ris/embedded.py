"""The demo's RIS: on the embedded default `manage.py serve` runs it beside the web server, so a
report signed in the demo is delivered and acknowledged instead of retried towards dead-letter.

It listens on DEMO_RIS_HOST:DEMO_RIS_PORT (port 0: any free port), points every demo site's
outbound HL7 destination at itself, acknowledges each result with AA and logs what arrived.
A demo site whose RIS endpoint names another machine is left alone: someone configured it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import close_old_connections, transaction

from demo_ris.receiver import ResultReceiver
from hl7_interface.codec import Hl7Error, parse
from hl7_interface.models import SiteHl7Config
from hl7_interface.services import hl7_site_configure
from worklists.demo.data import SITES
from worklists.models import Site

logger = logging.getLogger(__name__)


def _is_local(host: str) -> bool:
    if host in {"", "localhost"}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@transaction.atomic  # every demo site at once: none is left pointing at a dead port meanwhile
def point_demo_sites_at(host: str, port: int) -> list[str]:
    """Make ``host:port`` the RIS endpoint of every demo site whose endpoint is unset or on this
    machine (an earlier demo RIS or simulator); returns the codes of the sites it points at."""
    configured = dict(
        SiteHl7Config.objects.filter(site__code__in=[s.code for s in SITES]).values_list(
            "site__code", "ris_host"
        )
    )
    pointed = []
    for site_id, code, facility in Site.objects.filter(
        code__in=[s.code for s in SITES]
    ).values_list("id", "code", "hl7_sending_facility"):
        if not _is_local(configured.get(code, "")):
            continue
        hl7_site_configure(
            site_id=site_id,
            ris_host=host,
            ris_port=port,
            receiving_application="RIS",
            receiving_facility=facility,
        )
        pointed.append(code)
    return pointed


def _acknowledge_and_log(message: bytes) -> str:
    """Accept every result, and say on the console what the RIS received."""
    try:
        parsed = parse(message)
        obr = parsed.first("OBR")
        accession = obr.text(18) if obr else ""
        status = obr.text(25) if obr else ""
        logger.info(
            "demo RIS acknowledged %s from %s for accession %s (OBR-25 %s)",
            parsed.msh.raw(9),
            parsed.msh.raw(4),
            accession,
            status or "-",
        )
    except Hl7Error as exc:
        # A test RIS still answers what it cannot read; the log says why it looked odd.
        logger.warning("demo RIS acknowledged a message it could not parse: %s", exc)
    return "AA"


@contextlib.contextmanager
def running_demo_ris(*, host: str, port: int) -> Iterator[tuple[ResultReceiver, list[str]]]:
    """The demo RIS listening on ``host:port`` with the demo sites pointed at it."""
    with ResultReceiver(host=host, port=port, policy=_acknowledge_and_log) as receiver:
        try:
            sites = point_demo_sites_at(receiver.host, receiver.port)
        finally:
            close_old_connections()  # this thread's connection is not needed while listening
        yield receiver, sites


def run_embedded(stop: threading.Event) -> None:
    """The embedded service (settings.EMBEDDED_SERVICES), until `stop` is set."""
    with running_demo_ris(host=settings.DEMO_RIS_HOST, port=settings.DEMO_RIS_PORT) as (
        receiver,
        sites,
    ):
        if sites:
            logger.info(
                "demo RIS on %s:%s takes the results of %d demo sites: %s",
                receiver.host,
                receiver.port,
                len(sites),
                ", ".join(sites),
            )
        else:
            logger.info(
                "demo RIS on %s:%s, but no demo site to serve (run manage.py seed_demo)",
                receiver.host,
                receiver.port,
            )
        stop.wait()
