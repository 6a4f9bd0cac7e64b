"""Celery adapters for outbound delivery: load by id, call one service."""

from __future__ import annotations

from celery import shared_task

from hl7_interface.delivery import outbox_deliver
from hl7_interface.delivery import outbox_drain as drain_service


@shared_task(ignore_result=True)
def deliver_outbound(*, message_id: int) -> None:
    """Deliver one outbox row now (idempotent: a row not due or already sent is left alone)."""
    outbox_deliver(message_id=message_id)


@shared_task(ignore_result=True)
def outbox_drain() -> None:
    """Periodic: deliver every due row, retries included."""
    drain_service()
