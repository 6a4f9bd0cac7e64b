"""Inbound messages are written down first, in their own transaction, then applied."""

from __future__ import annotations

from django.utils import timezone

from worklists.models import InboundMessage


def inbound_store(
    *,
    channel: str,
    raw: bytes,
    site_id: int | None,
    peer: str = "",
    content_type: str = "",
    message_type: str = "",
    message_id: str = "",
) -> InboundMessage:
    """Persist the raw message before anything else looks at it (autocommit: it survives a
    failure of whatever comes next)."""
    return InboundMessage.objects.create(
        channel=channel,
        raw=raw,
        site_id=site_id,
        peer=peer[:100],
        content_type=content_type[:100],
        message_type=message_type[:32],
        message_id=message_id[:100],
        received_at=timezone.now(),
    )


def inbound_mark_failed(*, inbound_id: int, error: str) -> None:
    InboundMessage.objects.filter(id=inbound_id).update(
        status=InboundMessage.Status.FAILED, error=error, processed_at=timezone.now()
    )


class InboundAlreadyApplied(Exception):
    """Another worker applied this message first (recovery racing the listener, or a double
    reprocess): the caller's transaction must roll back so the change is made once."""


def inbound_mark_applied(*, inbound_id: int, study_id: int | None) -> None:
    """Called inside the applying transaction, so 'applied' commits with the change itself.

    A compare-and-set: only a message not yet applied can be marked, so whoever applies a
    message second rolls back instead of applying it twice.
    """
    updated = InboundMessage.objects.filter(
        id=inbound_id,
        status__in=(InboundMessage.Status.RECEIVED, InboundMessage.Status.FAILED),
    ).update(
        status=InboundMessage.Status.APPLIED,
        error="",
        processed_at=timezone.now(),
        study_id=study_id,
    )
    if not updated:
        raise InboundAlreadyApplied(f"inbound message {inbound_id} was applied already")


def inbound_mark_duplicate(*, inbound_id: int, original_id: int) -> None:
    """A repeat of an applied message (same sender, same message id): kept, changes nothing."""
    InboundMessage.objects.filter(id=inbound_id).update(
        status=InboundMessage.Status.DUPLICATE,
        error=f"duplicate of message {original_id}",
        processed_at=timezone.now(),
    )
