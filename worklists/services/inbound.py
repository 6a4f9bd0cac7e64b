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


def inbound_mark_applied(*, inbound_id: int, study_id: int | None) -> None:
    """Called inside the applying transaction, so 'applied' commits with the change itself."""
    InboundMessage.objects.filter(id=inbound_id).update(
        status=InboundMessage.Status.APPLIED,
        error="",
        processed_at=timezone.now(),
        study_id=study_id,
    )
