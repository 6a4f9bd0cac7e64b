"""What a site sees of a study: its state in the portal's terms, its report status and the
status of what was delivered to its RIS. Pure: plain values in, plain values out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Sequence

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from worklists.models import StudyStatus


class PortalState(enum.StrEnum):
    WAITING = "waiting"
    READING = "reading"
    PRELIMINARY = "preliminary"
    FINAL = "final"
    RETURNED = "returned"
    CANCELLED = "cancelled"


# The study statuses each portal state stands for; every status has exactly one state (a study
# on hold waits, as far as the site is concerned: nobody is reading it).
STATUSES: dict[PortalState, tuple[str, ...]] = {
    PortalState.WAITING: (StudyStatus.ORDERED, StudyStatus.READY, StudyStatus.ON_HOLD),
    PortalState.READING: (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS),
    PortalState.PRELIMINARY: (StudyStatus.PRELIMINARY,),
    PortalState.FINAL: (StudyStatus.FINAL,),
    PortalState.RETURNED: (StudyStatus.REJECTED,),
    PortalState.CANCELLED: (StudyStatus.CANCELLED,),
}
STATE_OF_STATUS: dict[str, PortalState] = {
    status: state for state, statuses in STATUSES.items() for status in statuses
}
ALL_LABEL: Promise = _("All")
LABELS: dict[PortalState, Promise] = {
    PortalState.WAITING: _("Waiting"),
    PortalState.READING: _("Being read"),
    PortalState.PRELIMINARY: _("Preliminary"),
    PortalState.FINAL: _("Final"),
    PortalState.RETURNED: _("Returned"),
    PortalState.CANCELLED: _("Cancelled"),
}


def state_of(status: str) -> PortalState:
    return STATE_OF_STATUS[status]


class ReportStatus(enum.StrEnum):
    NONE = ""
    PRELIMINARY = "preliminary"
    FINAL = "final"
    ADDENDED = "addended"
    CORRECTED = "corrected"


REPORT_LABELS: dict[ReportStatus, Promise] = {
    ReportStatus.NONE: _("No report"),
    ReportStatus.PRELIMINARY: _("Preliminary"),
    ReportStatus.FINAL: _("Final"),
    ReportStatus.ADDENDED: _("Final, addended"),
    ReportStatus.CORRECTED: _("Final, corrected"),
}
_REPORT_STATUS_OF_KIND = {
    "PRELIMINARY": ReportStatus.PRELIMINARY,
    "FINAL": ReportStatus.FINAL,
    "ADDENDUM": ReportStatus.ADDENDED,
    "CORRECTION": ReportStatus.CORRECTED,
}


@dataclasses.dataclass(frozen=True, slots=True)
class ReportSummary:
    """The report as it stands: its newest version's kind, who signed it and when."""

    status: ReportStatus
    version_number: int
    signed_at: dt.datetime | None
    signer_name: str

    @property
    def label(self) -> str:
        return str(REPORT_LABELS[self.status])


NO_REPORT = ReportSummary(
    status=ReportStatus.NONE, version_number=0, signed_at=None, signer_name=""
)


@dataclasses.dataclass(frozen=True, slots=True)
class VersionFacts:
    number: int
    kind: str
    signed_at: dt.datetime
    signer_name: str


def report_summary(versions: Iterable[VersionFacts]) -> ReportSummary:
    """The newest version decides (a correction after an addendum reads "corrected")."""
    newest = max(versions, key=lambda v: v.number, default=None)
    if newest is None:
        return NO_REPORT
    return ReportSummary(
        status=_REPORT_STATUS_OF_KIND[newest.kind],
        version_number=newest.number,
        signed_at=newest.signed_at,
        signer_name=newest.signer_name,
    )


class DeliveryStatus(enum.StrEnum):
    NONE = ""
    QUEUED = "queued"
    RETRYING = "retrying"
    ACKNOWLEDGED = "acknowledged"
    DEAD = "dead"


DELIVERY_LABELS: dict[DeliveryStatus, Promise] = {
    DeliveryStatus.NONE: _("Nothing to deliver"),
    DeliveryStatus.QUEUED: _("Queued"),
    DeliveryStatus.RETRYING: _("Failed, retrying"),
    DeliveryStatus.ACKNOWLEDGED: _("Acknowledged by your RIS"),
    DeliveryStatus.DEAD: _("Dead-lettered"),
}


@dataclasses.dataclass(frozen=True, slots=True)
class MessageFacts:
    """One outbox row as the portal needs it (hl7_interface.OutboundMessage, without content)."""

    id: int
    status: str  # PENDING, DELIVERED, DEAD
    result_status: str  # P, F, C; blank for a returned referral
    attempts: int
    last_error: str
    ack_code: str
    delivered_at: dt.datetime | None
    last_attempt_at: dt.datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class DeliverySummary:
    status: DeliveryStatus
    result_status: str
    attempts: int
    last_error: str
    ack_code: str
    at: dt.datetime | None
    message_count: int

    @property
    def label(self) -> str:
        return str(DELIVERY_LABELS[self.status])

    @property
    def needs_attention(self) -> bool:
        return self.status in (DeliveryStatus.RETRYING, DeliveryStatus.DEAD)


NOTHING_DELIVERED = DeliverySummary(
    status=DeliveryStatus.NONE,
    result_status="",
    attempts=0,
    last_error="",
    ack_code="",
    at=None,
    message_count=0,
)


def _facts_status(message: MessageFacts) -> DeliveryStatus:
    if message.status == "DEAD":
        return DeliveryStatus.DEAD
    if message.status == "DELIVERED":
        return DeliveryStatus.ACKNOWLEDGED
    return DeliveryStatus.RETRYING if message.attempts else DeliveryStatus.QUEUED


# Worst first: what the site must hear about is a delivery that failed, not the one before it
# that arrived (a study's rows go out in order, so a dead row holds back every later one).
_SEVERITY = {
    DeliveryStatus.DEAD: 0,
    DeliveryStatus.RETRYING: 1,
    DeliveryStatus.QUEUED: 2,
    DeliveryStatus.ACKNOWLEDGED: 3,
}


def delivery_summary(messages: Sequence[MessageFacts]) -> DeliverySummary:
    """One status for everything owed to the site for a study: the worst of its messages (the
    newest among equals)."""
    if not messages:
        return NOTHING_DELIVERED
    worst = min(messages, key=lambda m: (_SEVERITY[_facts_status(m)], -m.id))
    status = _facts_status(worst)
    return DeliverySummary(
        status=status,
        result_status=worst.result_status,
        attempts=worst.attempts,
        last_error=worst.last_error,
        ack_code=worst.ack_code,
        at=worst.delivered_at if status == DeliveryStatus.ACKNOWLEDGED else worst.last_attempt_at,
        message_count=len(messages),
    )
