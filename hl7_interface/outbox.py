"""Enqueue deliveries owed to a site's RIS (and again, on a re-send). Call inside the transaction
that commits the content.

The content is a frozen snapshot (plain JSON), so what is delivered is exactly what was signed,
whatever happens to the rows it came from afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hl7_interface.models import OutboundKind, OutboundMessage, OutboundStatus
from hl7_interface.tasks import deliver_outbound
from worklists.actors import Actor
from worklists.models import Study


class NotResendable(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class ReportSection:
    title: str
    text: str


@dataclasses.dataclass(frozen=True)
class CriticalCommunication:
    category: str
    communicated_to: str
    method: str
    communicated_at: dt.datetime
    read_back_confirmed: bool


@dataclasses.dataclass(frozen=True)
class ReportDelivery:
    """One report version as it is delivered (OBR-25 P, F or C)."""

    report_version_id: int
    version_number: int
    result_status: str  # "P", "F" or "C"
    sections: tuple[ReportSection, ...]
    signed_by_name: str
    signed_by_hpr: str
    signed_at: dt.datetime
    correction_reason: str = ""
    critical_finding_category: str = ""
    critical_communications: tuple[CriticalCommunication, ...] = ()


@dataclasses.dataclass(frozen=True)
class RejectionDelivery:
    """A returned referral (ORC-1 OC): coded reason in ORC-16, free text in NTE."""

    reason_code: str
    reason_text: str
    comment: str
    rejected_by_name: str
    rejected_by_hpr: str
    rejected_at: dt.datetime


def _as_json(value: object) -> object:
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValueError("delivery times must be timezone-aware")
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_as_json(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _as_json(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    return value


def _enqueue(*, study_id: int, kind: str, result_status: str, content: object) -> OutboundMessage:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("enqueue a delivery inside the transaction that commits its content")
    site_id = Study.objects.values_list("site_id", flat=True).get(pk=study_id)
    message = OutboundMessage.objects.create(
        site_id=site_id,
        study_id=study_id,
        kind=kind,
        result_status=result_status,
        content=_as_json(content),
        next_attempt_at=timezone.now(),
    )
    # Sent by a worker after commit; if that is lost, the periodic drain finds the row.
    schedule_delivery(message.id)
    return message


def outbox_enqueue_report(*, study_id: int, delivery: ReportDelivery) -> OutboundMessage:
    if delivery.result_status not in {"P", "F", "C"}:
        raise ValueError(f"result status must be P, F or C, not {delivery.result_status!r}")
    return _enqueue(
        study_id=study_id,
        kind=OutboundKind.REPORT,
        result_status=delivery.result_status,
        content=delivery,
    )


def outbox_enqueue_rejection(*, study_id: int, rejection: RejectionDelivery) -> OutboundMessage:
    return _enqueue(
        study_id=study_id, kind=OutboundKind.ORDER_REJECTION, result_status="", content=rejection
    )


def outbox_record_delivered_history(
    deliveries: Sequence[tuple[int, int, ReportDelivery, dt.datetime]],
) -> int:
    """Reports delivered before this system kept their outbox (history brought in from an
    earlier system, the demo's): each (site id, study id, delivery, delivered at) as a row
    already DELIVERED and acknowledged, so a site sees what its RIS received. Nothing is sent."""
    rows = [
        OutboundMessage(
            site_id=site_id,
            study_id=study_id,
            kind=OutboundKind.REPORT,
            result_status=delivery.result_status,
            content=_as_json(delivery),
            status=OutboundStatus.DELIVERED,
            attempts=1,
            next_attempt_at=None,
            delivered_at=delivered_at,
            last_attempt_at=delivered_at,
            ack_code="AA",
        )
        for site_id, study_id, delivery, delivered_at in deliveries
    ]
    OutboundMessage.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def outbox_resend(*, message_id: int, actor: Actor) -> OutboundMessage:
    """Send a dead-lettered (or delivered) message again, from a fresh set of attempts."""
    now = timezone.now()
    updated = OutboundMessage.objects.filter(
        Q(status=OutboundStatus.DEAD) | Q(status=OutboundStatus.DELIVERED), id=message_id
    ).update(
        status=OutboundStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        last_error=f"re-send requested by {actor.label} at {now.isoformat()}",
    )
    if not updated:
        raise NotResendable(f"outbound message {message_id} is already waiting to be sent")
    schedule_delivery(message_id)
    return OutboundMessage.objects.get(id=message_id)


def schedule_delivery(message_id: int) -> None:
    """After commit, ask a worker to deliver now (the periodic drain is the safety net; on the
    embedded default, with tasks run in-process, the drain does it so no request waits on a
    RIS)."""
    if deliver_outbound.app.conf.task_always_eager:
        return
    # Robust: the signature committed; if the broker is down the periodic drain delivers it.
    transaction.on_commit(lambda: deliver_outbound.delay(message_id=message_id), robust=True)
