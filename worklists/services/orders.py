"""Order ingest: a site creates, updates or cancels an order with its patient.

Idempotent on site + accession number: the same order applied twice changes nothing the second
time. Everything happens in one transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, fields

from django.db import IntegrityError, transaction
from django.utils import timezone

from worklists.actors import Actor
from worklists.lifecycle import TERMINAL_STATUSES
from worklists.models import (
    UNREAD_STATUSES,
    Patient,
    PatientIdentifier,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.services.inbound import inbound_mark_applied
from worklists.services.studies import (
    study_cancel_locked,
    study_mark_ready_locked,
    study_reclassify_locked,
)


class _ConcurrentCreate(Exception):
    """A unique key was taken by a concurrent transaction: run the whole order again."""


class OrderAction(enum.StrEnum):
    NEW = "new"
    UPDATE = "update"
    CANCEL = "cancel"


class OrderOutcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CANCELLED = "cancelled"


class OrderError(Exception):
    """The order cannot be applied as sent; ``field`` names the offending part when known."""

    def __init__(self, message: str, *, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.field = field


class OrderNotFound(OrderError):
    pass


class OrderConflict(OrderError):
    pass


@dataclass(frozen=True, slots=True)
class IdentifierInput:
    kind: str
    value: str
    authority: str


@dataclass(frozen=True, slots=True)
class PatientInput:
    identifiers: tuple[IdentifierInput, ...]
    family_name: str
    given_name: str = ""
    birth_date: dt.date | None = None
    sex: str = "U"


@dataclass(frozen=True, slots=True)
class StudyInput:
    """The order's study fields, as the site's RIS states them."""

    modality: str
    procedure_text: str
    ordered_at: dt.datetime
    procedure_code: str = ""
    procedure_coding_system: str = "NCRP"
    body_part: str = ""
    priority: str = "ROUTINE"
    clinical_question: str = ""
    referring_physician: str = ""
    study_instance_uid: str = ""


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


# Changing one of these after the study became READY re-runs classification and the deadline.
CLASSIFICATION_INPUTS = frozenset(
    {"modality", "body_part", "procedure_code", "procedure_text", "priority"}
)


def _resolve_patient(patient_in: PatientInput) -> tuple[Patient, list[str]]:
    """The patient these identifiers name (created if new), and the demographics that changed."""
    matches = (
        PatientIdentifier.objects.select_for_update()
        .filter(
            kind__in=[i.kind for i in patient_in.identifiers],
            value__in=[i.value for i in patient_in.identifiers],
        )
        .select_related("patient")
    )
    wanted = {(i.kind, i.authority, i.value) for i in patient_in.identifiers}
    found = [m for m in matches if (m.kind, m.authority, m.value) in wanted]
    patients = {m.patient_id: m.patient for m in found}
    changed: list[str] = []
    if len(patients) > 1:
        raise OrderConflict(
            "the identifiers belong to different patients; merge the patients first",
            field="patient.identifiers",
        )
    if patients:
        patient = next(iter(patients.values()))
        for name in ("family_name", "given_name", "birth_date", "sex"):
            value = getattr(patient_in, name)
            if value not in ("", None) and getattr(patient, name) != value:
                setattr(patient, name, value)
                changed.append(f"patient.{name}")
        if changed:
            patient.save(
                update_fields=[*(c.removeprefix("patient.") for c in changed), "updated_at"]
            )
    else:
        patient = Patient.objects.create(
            family_name=patient_in.family_name,
            given_name=patient_in.given_name,
            birth_date=patient_in.birth_date,
            sex=patient_in.sex,
        )
    known = {(m.kind, m.authority, m.value) for m in found}
    new_identifiers = sorted(wanted - known)
    try:
        with transaction.atomic():
            PatientIdentifier.objects.bulk_create(
                PatientIdentifier(patient=patient, kind=k, authority=a, value=v)
                for (k, a, v) in new_identifiers
            )
    except IntegrityError as exc:
        # Another order named the same new patient an instant earlier and has committed (a
        # unique index waits for the other transaction): retrying finds that patient.
        raise _ConcurrentCreate from exc
    if new_identifiers and patients:
        changed.append("patient.identifiers")
    return patient, changed


# Identity set once and never taken away by an order that does not repeat it: the images
# (DICOM) may have supplied the StudyInstanceUID the viewer link depends on.
KEPT_WHEN_BLANK = frozenset({"study_instance_uid"})


def _apply_study_fields(study: Study, study_in: StudyInput) -> list[str]:
    changed = []
    for f in fields(StudyInput):
        value = getattr(study_in, f.name)
        if f.name in KEPT_WHEN_BLANK and not value:
            continue
        if getattr(study, f.name) != value:
            setattr(study, f.name, value)
            changed.append(f.name)
    return changed


def _create(*, site_id: int, order: OrderInput, actor: Actor, now: dt.datetime) -> OrderResult:
    if order.study is None or order.patient is None:
        raise OrderError("a new order needs its patient and study", field="study")
    patient, _ = _resolve_patient(order.patient)
    study = Study(
        site_id=site_id,
        accession_number=order.accession_number,
        patient=patient,
        status=StudyStatus.ORDERED,
        status_changed_at=now,
    )
    _apply_study_fields(study, order.study)
    try:
        with transaction.atomic():
            study.save()
    except IntegrityError as exc:
        # Another request created the same accession number an instant ago: let the caller
        # retry, which then finds it and applies this order as an update.
        raise _ConcurrentCreate from exc
    StudyEvent.objects.create(
        study=study,
        from_status="",
        to_status=StudyStatus.ORDERED,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=now,
        reason="order received",
    )
    if order.images_available:
        study_mark_ready_locked(study, actor=actor, at=now)
    return OrderResult(study=study, outcome=OrderOutcome.CREATED)


def _update(*, study: Study, order: OrderInput, actor: Actor, now: dt.datetime) -> OrderResult:
    if study.status in TERMINAL_STATUSES:
        raise OrderConflict(
            f"accession {study.accession_number} is {study.status} and can no longer change",
            field="accession_number",
        )
    changed: list[str] = []
    if order.patient is not None:
        patient, changed = _resolve_patient(order.patient)
        if patient.id != study.patient_id:
            raise OrderConflict(
                f"accession {study.accession_number} belongs to another patient; "
                "correct the patient with a merge, not by a changed order",
                field="patient.identifiers",
            )
    study_changed = _apply_study_fields(study, order.study) if order.study else []
    if study_changed:
        study.save(update_fields=[*study_changed, "updated_at"])
    changed.extend(study_changed)
    if changed:
        StudyEvent.objects.create(
            study=study,
            from_status=study.status,
            to_status=study.status,
            actor_id=actor.user_id,
            actor_label=actor.label,
            at=now,
            reason="order updated",
            data={"changed": changed},
        )
    if study.status in UNREAD_STATUSES and CLASSIFICATION_INPUTS.intersection(study_changed):
        study_reclassify_locked(study, at=now)
    if order.images_available and study.status == StudyStatus.ORDERED:
        study_mark_ready_locked(study, actor=actor, at=now)
        changed.append("status")
    elif order.images_available and not study.images_available:
        # Images complete while the study is held: remembered, so releasing the hold opens it.
        study.images_available = True
        study.save(update_fields=["images_available", "updated_at"])
        changed.append("images_available")
    outcome = OrderOutcome.UPDATED if changed else OrderOutcome.UNCHANGED
    return OrderResult(study=study, outcome=outcome, changed_fields=changed)


def _cancel(*, study: Study, order: OrderInput, actor: Actor, now: dt.datetime) -> OrderResult:
    if study.status == StudyStatus.CANCELLED:
        return OrderResult(study=study, outcome=OrderOutcome.UNCHANGED)
    if study.status in TERMINAL_STATUSES:
        raise OrderConflict(
            f"accession {study.accession_number} is {study.status} and cannot be cancelled",
            field="accession_number",
        )
    study_cancel_locked(study, actor=actor, reason=order.reason or "order cancelled", at=now)
    return OrderResult(study=study, outcome=OrderOutcome.CANCELLED, changed_fields=["status"])


def order_apply(
    *, site_id: int, order: OrderInput, actor: Actor, inbound_id: int | None = None
) -> OrderResult:
    """Create, update or cancel the order ``order.accession_number`` of ``site_id``."""
    for _attempt in range(3):
        try:
            return _order_apply_once(
                site_id=site_id, order=order, actor=actor, inbound_id=inbound_id
            )
        except _ConcurrentCreate:
            continue
    raise OrderConflict("the order kept colliding with a concurrent change; send it again")


@transaction.atomic
def _order_apply_once(
    *, site_id: int, order: OrderInput, actor: Actor, inbound_id: int | None
) -> OrderResult:
    now = timezone.now()
    study = (
        Study.objects.select_for_update()
        .filter(site_id=site_id, accession_number=order.accession_number)
        .first()
    )
    if study is None:
        if order.action is not OrderAction.NEW:
            raise OrderNotFound(
                f"no order with accession number {order.accession_number} at this site",
                field="accession_number",
            )
        result = _create(site_id=site_id, order=order, actor=actor, now=now)
    elif order.action is OrderAction.CANCEL:
        result = _cancel(study=study, order=order, actor=actor, now=now)
    else:
        result = _update(study=study, order=order, actor=actor, now=now)
    if inbound_id is not None:
        inbound_mark_applied(inbound_id=inbound_id, study_id=result.study.id)
    return result
