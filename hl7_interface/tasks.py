"""Celery adapters for outbound delivery: load by id, call one service."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer

from hl7_interface.delivery import outbox_deliver
from hl7_interface.delivery import outbox_drain as drain_service
from worklists.live import ALL_SITES_GROUP, site_group


@shared_task(ignore_result=True)
def deliver_outbound(*, message_id: int) -> None:
    """Deliver one outbox row now (idempotent: a row not due or already sent is left alone)."""
    outbox_deliver(message_id=message_id)


@shared_task(ignore_result=True)
def outbox_drain() -> None:
    """Periodic: deliver every due row, retries included."""
    drain_service()


@shared_task(ignore_result=True)
def broadcast_study_events(*, events: list[dict[str, Any]]) -> None:
    """A batch of study events from the listener, sent to the sockets in one event-loop pass.

    Each message is the one ``worklists.tasks.broadcast_study_event`` sends for one event.
    """
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for event in events:
            message = {
                "type": "study.event",
                "event": event["event"],
                "study_id": event["study_id"],
                "status": event["status"],
            }
            for group in (site_group(event["site_id"]), ALL_SITES_GROUP):
                await layer.group_send(group, message)

    async_to_sync(send_all)()
