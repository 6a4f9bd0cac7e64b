"""The sites HL7 comes from, by MSH-4: cached, with the source addresses each may send from."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import zoneinfo
from dataclasses import dataclass

from django.conf import settings

from hl7_interface import mapping
from hl7_interface.models import Charset, SiteHl7Config
from teleradiology.listeners import Network, address_allowed, parse_networks
from worklists.models import Site

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SiteEntry:
    """What the listener needs about a sender, cached so a message costs no site queries."""

    site: Site
    context: mapping.SiteContext
    default_charset: str
    allowed_networks: tuple[Network, ...]

    def allows(self, peer_host: str) -> bool:
        return address_allowed(peer_host, self.allowed_networks)


class SiteDirectory:
    """Sites by MSH-4, cached for HL7_SITE_CACHE_SECONDS (a changed site is seen that soon)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, SiteEntry | None]] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, sending_facility: str) -> SiteEntry | None:
        now = time.monotonic()
        with self._lock:
            cached = self._entries.get(sending_facility)
        if cached is not None and cached[0] > now:
            return cached[1]
        entry = self._load(sending_facility)
        with self._lock:
            self._entries[sending_facility] = (now + settings.HL7_SITE_CACHE_SECONDS, entry)
        return entry

    @staticmethod
    def _load(sending_facility: str) -> SiteEntry | None:
        if not sending_facility:
            return None
        site = Site.objects.filter(hl7_sending_facility=sending_facility, is_active=True).first()
        if site is None:
            return None
        config = SiteHl7Config.objects.filter(site=site).first()
        return SiteEntry(
            site=site,
            context=mapping.SiteContext(
                code=site.code,
                sending_facility=site.hl7_sending_facility,
                zone=zoneinfo.ZoneInfo(site.time_zone),
            ),
            default_charset=config.default_charset if config else Charset.UTF8,
            allowed_networks=_allowed_networks(site, config),
        )


sites = SiteDirectory()


def _allowed_networks(site: Site, config: SiteHl7Config | None) -> tuple[Network, ...]:
    try:
        return parse_networks(config.allowed_source_addresses) if config else ()
    except ValueError:
        # Saved past the form's validation: refuse everyone rather than guess.
        logger.error("HL7 allowed source addresses of site %s are not valid", site.code)
        return (ipaddress.ip_network("0.0.0.0/32"),)
