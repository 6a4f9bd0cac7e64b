"""Inbound HL7: store the raw bytes, apply the message, acknowledge after commit.

``hl7_receive`` is the whole pipeline for one frame and is what the listener calls from a worker
thread; it never raises for bad content (the answer is an AE/AR ACK and a stored error).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import threading
import time
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from hl7_interface import mapping
from hl7_interface.codec import Header, Hl7Error, parse, read_header
from hl7_interface.models import Charset, SiteHl7Config
from hl7_interface.writer import Identity, build_ack
from worklists.actors import Actor
from worklists.models import InboundMessage, Site
from worklists.services.inbound import (
    InboundAlreadyApplied,
    inbound_applied_before,
    inbound_mark_applied,
    inbound_mark_duplicate,
    inbound_mark_failed,
    inbound_store,
)
from worklists.services.orders import OrderError, orders_apply
from worklists.services.patients import PatientError, patient_merge, patient_update

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/hl7-v2"


@dataclass(frozen=True, slots=True)
class SiteEntry:
    """What the listener needs about a sender, cached so a message costs no site queries."""

    site: Site
    context: mapping.SiteContext
    default_charset: str
    allowed_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def allows(self, peer_host: str) -> bool:
        if not self.allowed_networks:
            return True
        try:
            address = ipaddress.ip_address(peer_host)
        except ValueError:
            return False
        return any(address in network for network in self.allowed_networks)


def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


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
            allowed_networks=_networks(config.allowed_source_addresses) if config else (),
        )


sites = SiteDirectory()


def identity() -> Identity:
    return Identity(
        application=settings.HL7_SENDING_APPLICATION, facility=settings.HL7_SENDING_FACILITY
    )


def _peer_host(peer: str) -> str:
    host, _, _port = peer.rpartition(":")
    return (host or peer).strip("[]")


# Where an order service's complaint is in the message.
_FIELD_LOCATIONS = {
    "accession_number": ("OBR", 18),
    "patient.identifiers": ("PID", 3),
    "prior": ("MRG", 1),
    "study": ("OBR", 0),
    "study.modality": ("OBR", 24),
    "study.procedure_text": ("OBR", 4),
    "study.ordered_at": ("ORC", 9),
}


def _as_hl7_error(exc: OrderError | PatientError) -> Hl7Error:
    segment, field = _FIELD_LOCATIONS.get(exc.field, ("", 0))
    return Hl7Error(str(exc), segment=segment, field=field, error_code="207")


@dataclass(frozen=True, slots=True)
class Received:
    """The outcome of one inbound frame: the ACK to send and the stored message."""

    ack: bytes
    ack_code: str
    inbound_id: int | None


def hl7_receive(*, raw: bytes, peer: str) -> Received:
    """Store ``raw`` (committed before anything else), apply it, and build the ACK.

    The ACK is built after the applying transaction has committed: AA means durable.
    """
    header: Header | None = None
    error: Hl7Error | None = None
    entry: SiteEntry | None = None
    try:
        header = read_header(raw)
    except Hl7Error as exc:
        error = exc
    if header is not None:
        entry = sites.get(header.sending_facility)
    inbound = inbound_store(
        channel=InboundMessage.Channel.HL7,
        raw=raw,
        site_id=entry.site.id if entry else None,
        peer=peer,
        content_type=CONTENT_TYPE,
        message_type=header.message_type if header else "",
        message_id=header.control_id if header else "",
    )
    if error is None and header is not None:
        if entry is None:
            error = Hl7Error(
                "unknown sending facility: no active site has this HL7 sending facility",
                segment="MSH",
                field=4,
                value=header.sending_facility,
                ack_code="AR",
                error_code="204",
            )
        elif not entry.allows(_peer_host(peer)):
            error = Hl7Error(
                f"messages from {entry.site.code} are not accepted from address {_peer_host(peer)}",
                segment="MSH",
                field=4,
                value=header.sending_facility,
                ack_code="AR",
                error_code="204",
            )
    if error is not None:
        inbound_mark_failed(inbound_id=inbound.id, error=error.describe())
        return _answer(header, error=error, inbound_id=inbound.id)
    assert header is not None
    assert entry is not None
    return _process(inbound_id=inbound.id, raw=raw, header=header, entry=entry)


def hl7_receive_oversize(*, head: bytes, size: int, peer: str) -> Received:
    """A frame over HL7_MAX_FRAME_BYTES: its head is stored with the error and it is refused."""
    header: Header | None
    try:
        header = read_header(head)
    except Hl7Error:
        header = None
    entry = sites.get(header.sending_facility) if header else None
    inbound = inbound_store(
        channel=InboundMessage.Channel.HL7,
        raw=head,
        site_id=entry.site.id if entry else None,
        peer=peer,
        content_type=CONTENT_TYPE,
        message_type=header.message_type if header else "",
        message_id=header.control_id if header else "",
    )
    error = Hl7Error(
        f"the frame is {size} bytes, over the maximum of {settings.HL7_MAX_FRAME_BYTES} "
        f"bytes; only its first {len(head)} bytes are kept",
        ack_code="AR",
        error_code="207",
    )
    inbound_mark_failed(inbound_id=inbound.id, error=error.describe())
    return _answer(header, error=error, inbound_id=inbound.id)


def _answer(
    header: Header | None, *, error: Hl7Error | None = None, text: str = "", inbound_id: int
) -> Received:
    code = error.ack_code if error else "AA"
    ack = build_ack(header=header, code=code, identity=identity(), error=error, text=text)
    return Received(ack=ack, ack_code=code, inbound_id=inbound_id)


def _process(*, inbound_id: int, raw: bytes, header: Header, entry: SiteEntry) -> Received:
    original = (
        inbound_applied_before(
            site_id=entry.site.id, message_id=header.control_id, exclude_id=inbound_id
        )
        if header.control_id
        else None
    )
    if original is not None:
        inbound_mark_duplicate(inbound_id=inbound_id, original_id=original)
        return _answer(
            header, text=f"duplicate of message {original}, already applied", inbound_id=inbound_id
        )
    try:
        mapping.check_type(header.message_type, header.version)
        message = parse(raw, default_charset=entry.default_charset)
        command = mapping.to_command(message, entry.context)
        _apply(command, entry=entry, inbound_id=inbound_id)
    except Hl7Error as exc:
        inbound_mark_failed(inbound_id=inbound_id, error=exc.describe())
        return _answer(header, error=exc, inbound_id=inbound_id)
    except (OrderError, PatientError) as exc:
        error = _as_hl7_error(exc)
        inbound_mark_failed(inbound_id=inbound_id, error=error.describe())
        return _answer(header, error=error, inbound_id=inbound_id)
    except InboundAlreadyApplied:
        # Recovery (or a reprocess) applied this very row meanwhile: it is durable, say so.
        return _answer(header, text="already applied", inbound_id=inbound_id)
    except OperationalError:
        # Transient (deadlock, lost database): no ACK at all, so the RIS sends it again; this
        # stored row stays RECEIVED and is recovered (or found a duplicate) on the next start.
        raise
    except Exception as exc:
        # Our fault, not the sender's: kept with the error for reprocessing after a fix.
        logger.exception("HL7 message %s could not be applied", inbound_id)
        error = Hl7Error(f"internal error: {exc!r}", error_code="207")
        inbound_mark_failed(inbound_id=inbound_id, error=error.describe())
        return _answer(header, error=error, inbound_id=inbound_id)
    return _answer(header, inbound_id=inbound_id)


def _apply(command: mapping.Command, *, entry: SiteEntry, inbound_id: int) -> None:
    site = entry.site
    actor = Actor.for_site(site.code)
    if isinstance(command, mapping.OrdersCommand):
        orders_apply(
            site_id=site.id, orders=command.orders, actor=actor, inbound_id=inbound_id, site=site
        )
        return
    with transaction.atomic():
        if isinstance(command, mapping.PatientUpdateCommand):
            patient_update(site_id=site.id, patient=command.patient)
        else:
            patient_merge(
                site_id=site.id, surviving=command.patient, prior=command.prior, actor=actor
            )
        inbound_mark_applied(inbound_id=inbound_id, study_id=None)


def hl7_reprocess(*, inbound_id: int) -> Received:
    """Apply a stored HL7 message again (after a fix): failed, or never applied (a crash)."""
    inbound = InboundMessage.objects.get(id=inbound_id, channel=InboundMessage.Channel.HL7)
    if inbound.status in (InboundMessage.Status.APPLIED, InboundMessage.Status.DUPLICATE):
        raise InboundAlreadyApplied(f"message {inbound_id} is {inbound.status}")
    raw = bytes(inbound.raw)
    try:
        header = read_header(raw)
    except Hl7Error as exc:
        inbound_mark_failed(inbound_id=inbound_id, error=exc.describe())
        return _answer(None, error=exc, inbound_id=inbound_id)
    sites.clear()  # reprocessing follows a fix, possibly of the site's configuration
    entry = sites.get(header.sending_facility)
    if entry is None:
        error = Hl7Error(
            "unknown sending facility",
            segment="MSH",
            field=4,
            value=header.sending_facility,
            ack_code="AR",
            error_code="204",
        )
        inbound_mark_failed(inbound_id=inbound_id, error=error.describe())
        return _answer(header, error=error, inbound_id=inbound_id)
    if inbound.site_id is None:
        InboundMessage.objects.filter(id=inbound_id).update(site_id=entry.site.id)
    return _process(inbound_id=inbound_id, raw=raw, header=header, entry=entry)


def hl7_recover_unapplied(*, older_than_seconds: float = 0.0) -> list[int]:
    """Apply HL7 messages stored but never applied (the listener died in between).

    Safe against a live listener applying the same row: marking applied is a compare-and-set,
    so each message is applied exactly once.
    """
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    ids = list(
        InboundMessage.objects.filter(
            channel=InboundMessage.Channel.HL7,
            status=InboundMessage.Status.RECEIVED,
            received_at__lte=cutoff,
        )
        .order_by("received_at", "id")
        .values_list("id", flat=True)
    )
    recovered = []
    for inbound_id in ids:
        try:
            result = hl7_reprocess(inbound_id=inbound_id)
        except InboundAlreadyApplied:
            continue
        logger.info("recovered HL7 message %s: %s", inbound_id, result.ack_code)
        recovered.append(inbound_id)
    return recovered


def hl7_site_configure(*, site_id: int, **fields: object) -> SiteHl7Config:
    """Create or change a site's HL7 configuration (e.g. where its RIS takes results)."""
    allowed = {f.name for f in SiteHl7Config._meta.fields} - {"id", "site"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not HL7 configuration fields: {', '.join(sorted(unknown))}")
    config, _created = SiteHl7Config.objects.update_or_create(site_id=site_id, defaults=fields)
    sites.clear()
    return config
