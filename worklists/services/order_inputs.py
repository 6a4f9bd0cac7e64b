"""What an order states (``OrderInput``, its ``StudyInput`` and the patient's ``PatientInput``),
what applying it answers, and the errors that refuse it: the vocabulary of order ingest, shared
by ``orders`` and ``order_changes`` (and re-exported by ``orders``, the ingest API).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from worklists.errors import Conflict, DomainError, NotFound
from worklists.models import Study
from worklists.services.patient_identifiers import PatientInput


class OrderAction(enum.StrEnum):
    NEW = "new"
    UPDATE = "update"
    CANCEL = "cancel"


class OrderOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CANCELLED = "cancelled"


class OrderError(DomainError):
    """The order cannot be applied as sent; ``field`` names the offending part when known."""


class OrderNotFound(OrderError, NotFound):
    pass


class OrderConflict(OrderError, Conflict):
    pass


@dataclass(frozen=True, slots=True)
class StudyInput:
    """The order's study fields as the site's RIS states them; None means "not stated"."""

    modality: str | None = None
    procedure_text: str | None = None
    ordered_at: dt.datetime | None = None
    procedure_code: str | None = None
    procedure_coding_system: str | None = None
    body_part: str | None = None
    priority: str | None = None
    clinical_question: str | None = None
    referring_physician: str | None = None
    study_instance_uid: str | None = None
    placer_order_number: str | None = None
    filler_order_number: str | None = None


@dataclass(frozen=True, slots=True)
class OrderInput:
    accession_number: str
    action: OrderAction
    patient: PatientInput | None = None
    study: StudyInput | None = None
    images_available: bool = False
    reason: str = ""


@dataclass(slots=True)
class OrderResult:
    study: Study
    outcome: OrderOutcome
    changed_fields: list[str] = field(default_factory=list)
