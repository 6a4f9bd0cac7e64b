"""Inbound HL7: store the raw bytes, apply the message, acknowledge after commit.

``hl7_receive`` is the whole pipeline for one frame and is what the listener calls from a worker
thread; it never raises for bad content (the answer is an AE/AR ACK and a stored error). The
senders are looked up in senders.py; a batch's messages are applied by applying.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from hl7_interface import mapping
from hl7_interface.applying import BatchItem, apply_batch
from hl7_interface.codec import Header, Hl7Error, Message, parse, read_header
from hl7_interface.models import SiteHl7Config
from hl7_interface.senders import sites
from hl7_interface.writer import Identity, build_ack
from teleradiology.listeners import addresses_required, parse_networks
from worklists.models import InboundMessage, Site
from worklists.services.inbound import (
    InboundAlreadyApplied,
    inbound_applied_many,
    inbound_mark_failed,
    inbound_store,
    inbound_store_and_find_applied,
)

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/hl7-v2"


def sites_that_cannot_send() -> list[str]:
    """Active sites with an HL7 sending facility whose messages would all be refused because
    no source address is configured for them (outside the embedded demo)."""
    if not addresses_required():
        return []
    problems = []
    active = Site.objects.filter(is_active=True).exclude(hl7_sending_facility="")
    configs = {
        config.site_id: config
        for config in SiteHl7Config.objects.filter(site__in=active).only(
            "site_id", "allowed_source_addresses"
        )
    }
    for site in active.order_by("code").only("id", "code", "hl7_sending_facility"):
        config = configs.get(site.id)
        try:
            networks = parse_networks(config.allowed_source_addresses) if config else ()
        except ValueError as exc:
            problems.append(f"site {site.code}: allowed source addresses are not valid ({exc})")
            continue
        if not networks:
            problems.append(
                f"site {site.code} (MSH-4 {site.hl7_sending_facility!r}) has no allowed source "
                "addresses in its HL7 configuration: its messages are refused"
            )
    return problems


def identity() -> Identity:
    return Identity(
        application=settings.HL7_SENDING_APPLICATION, facility=settings.HL7_SENDING_FACILITY
    )


def _peer_host(peer: str) -> str:
    host, _, _port = peer.rpartition(":")
    return (host or peer).strip("[]")


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
    return hl7_receive_batch([(raw, peer)])[0]


def hl7_receive_batch(frames: Sequence[tuple[bytes, str]]) -> list[Received]:
    """``hl7_receive`` for several frames at once (group commit), answers in the same order.

    The raw bytes of all of them are stored first and committed (one statement, with the
    lookup of messages they repeat); then every message is applied in ONE transaction, so the
    batch costs one commit, not one per message. A message that fails is taken out and the
    others are applied again without it: its error is stored and answered (AE/AR), the others
    are applied and AA'd. Every answer is built after the commit that made it durable.
    """
    items = [_read(raw, peer) for raw, peer in frames]
    ids, originals = inbound_store_and_find_applied(
        [
            {
                "channel": InboundMessage.Channel.HL7,
                "raw": _kept_bytes(item),
                "site_id": item.entry.site.id if item.entry else None,
                "peer": item.peer,
                "content_type": CONTENT_TYPE,
                "message_type": item.header.message_type if item.header else "",
                "message_id": item.header.control_id if item.header else "",
            }
            for item in items
        ],
        # Repeats of messages applied before: looked up with the store (one round trip).
        applied_keys=_repeat_keys(items),
        # Every answer waits for the synchronous commit of _process_batch, which comes later in
        # the WAL and so makes these rows durable too: no second flush to wait for.
        flushed_by_next_commit=True,
    )
    for item, inbound_id in zip(items, ids, strict=True):
        item.inbound_id = inbound_id
    return _process_batch(items, originals=originals)


def _kept_bytes(item: BatchItem) -> bytes:
    """What is stored of a frame: all of it from a known sender; from an unknown one (no site,
    not the site's address, no readable header) its head only, so a stranger cannot fill the
    database."""
    if item.entry is not None and item.entry.allows(_peer_host(item.peer)):
        return item.raw
    return item.raw[: settings.HL7_UNKNOWN_SENDER_KEEP_BYTES]


def _read(raw: bytes, peer: str) -> BatchItem:
    """The header, the sender's site, and whether the sender may send at all."""
    try:
        header = read_header(raw)
    except Hl7Error as exc:
        return BatchItem(raw=raw, peer=peer, header=None, entry=None, error=exc)
    entry = sites.get(header.sending_facility)
    item = BatchItem(raw=raw, peer=peer, header=header, entry=entry)
    if entry is None:
        item.error = Hl7Error(
            "unknown sending facility: no active site has this HL7 sending facility",
            segment="MSH",
            field=4,
            value=header.sending_facility,
            ack_code="AR",
            error_code="204",
        )
    elif not entry.allows(_peer_host(peer)):
        reason = (
            f"messages from {entry.site.code} are not accepted from address {_peer_host(peer)}"
            if entry.allowed_networks
            else f"site {entry.site.code} has no allowed source addresses configured: outside "
            "the embedded demo it cannot send"
        )
        item.error = Hl7Error(
            reason,
            segment="MSH",
            field=4,
            value=header.sending_facility,
            ack_code="AR",
            error_code="204",
        )
    return item


def hl7_receive_oversize(*, head: bytes, size: int, peer: str) -> Received:
    """A frame over HL7_MAX_FRAME_BYTES: its head is stored with the error and it is refused."""
    header: Header | None
    try:
        header = read_header(head)
    except Hl7Error:
        header = None
    entry = sites.get(header.sending_facility) if header else None
    if entry is None or not entry.allows(_peer_host(peer)):
        head = head[: settings.HL7_UNKNOWN_SENDER_KEEP_BYTES]
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


def _repeat_keys(items: list[BatchItem]) -> list[tuple[int, str]]:
    """(site id, message id) of the messages that could repeat an applied one."""
    return [
        (item.entry.site.id, item.header.control_id)
        for item in items
        if item.error is None and item.entry and item.header and item.header.control_id
    ]


def _process_batch(
    items: list[BatchItem], *, originals: dict[tuple[int, str], int] | None = None
) -> list[Received]:
    """Apply the stored ``items`` (repeats found, content parsed, one transaction) and answer.
    ``originals``: the applied messages they repeat, if already looked up."""
    if originals is None:
        originals = inbound_applied_many(_repeat_keys(items))
    for item in items:
        if item.error is not None or item.header is None or item.entry is None:
            continue
        original = originals.get((item.entry.site.id, item.header.control_id))
        if original is not None:
            item.duplicate_of = original
            continue
        try:
            mapping.check_type(item.header.message_type, item.header.version)
            message = parse(
                item.raw, default_charset=item.entry.default_charset, header=item.header
            )
            item.command = mapping.to_command(message, item.entry.context)
            _check_study_uids(item.command, message)
        except Hl7Error as exc:
            item.error = exc
    apply_batch(items)
    return [_answer_item(item) for item in items]


# As the REST API's order serializer: dot-separated digits. The UID goes into the viewer's link,
# so anything else (a '&' or '#', a second parameter) must not get that far.
_STUDY_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def _check_study_uids(command: mapping.Command, message: Message) -> None:
    if not isinstance(command, mapping.OrdersCommand):
        return
    for order in command.orders:
        uid = order.study.study_instance_uid if order.study else None
        if uid and not _STUDY_UID.fullmatch(uid):
            in_zds = message.first("ZDS") is not None
            raise Hl7Error(
                "the StudyInstanceUID is not a DICOM UID (digits separated by dots)",
                segment="ZDS" if in_zds else "IPC",
                field=1 if in_zds else 3,
                value=uid,
                error_code="207",
            )


def _answer_item(item: BatchItem) -> Received:
    if item.error is not None:
        return _answer(item.header, error=item.error, inbound_id=item.inbound_id)
    original = item.duplicate_of or item.batch_duplicate_of
    if original is not None:
        return _answer(
            item.header,
            text=f"duplicate of message {original}, already applied",
            inbound_id=item.inbound_id,
        )
    return _answer(item.header, text=item.text, inbound_id=item.inbound_id)


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
    item = BatchItem(raw=raw, peer=inbound.peer, header=header, entry=entry, inbound_id=inbound_id)
    return _process_batch([item])[0]


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
