"""Order ingest: a site creates, updates or cancels an order with its patient.

Idempotent on site + accession number: the same order applied twice changes nothing the second
time. An update changes only what it states; a field it leaves out keeps its value. Everything
happens in one transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from worklists import live
from worklists.actors import Actor
from worklists.lifecycle import TERMINAL_STATUSES
from worklists.models import (
    UNREAD_STATUSES,
    Patient,
    PatientIdentifier,
    Site,
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
    authority: str = ""  # empty: the authority that issues this kind (see _with_authorities)


@dataclass(frozen=True, slots=True)
class PatientInput:
    """The order's patient; None means "not stated": a known value is kept."""

    identifiers: tuple[IdentifierInput, ...]
    family_name: str
    given_name: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None


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


REQUIRED_FOR_NEW = ("modality", "procedure_text", "ordered_at")


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
# Identity set once and never taken away by an order that sends it blank: the images (DICOM)
# may have supplied the StudyInstanceUID the viewer link depends on.
KEPT_WHEN_BLANK = frozenset({"study_instance_uid"})


def _with_authorities(site: Site, identifiers: tuple[IdentifierInput, ...]) -> set[tuple]:
    """(kind, authority, value) for each identifier, with the authority that issues its kind.

    National numbers belong to the national register whoever sends them, so one person is one
    patient across all sites; any other identifier is the sending site's own.
    """
    keyed = set()
    for identifier in identifiers:
        national = identifier.kind in PatientIdentifier.NATIONAL_REGISTER_KINDS
        authority = PatientIdentifier.NATIONAL_AUTHORITY if national else site.code
        if identifier.authority and identifier.authority != authority:
            raise OrderError(
                f"a {identifier.kind} from this site is issued by {authority!r}, "
                f"not {identifier.authority!r}",
                field="patient.identifiers",
            )
        keyed.add((identifier.kind, authority, identifier.value))
    return keyed


def _resolve_patient(site: Site, patient_in: PatientInput) -> tuple[Patient, list[str]]:
    """The patient these identifiers name (created if new), and the demographics that changed."""
    wanted = _with_authorities(site, patient_in.identifiers)
    matches = (
        PatientIdentifier.objects.select_for_update()
        .filter(kind__in={k for k, _, _ in wanted}, value__in={v for _, _, v in wanted})
        .select_related("patient")
        .order_by("id")
    )
    found = [m for m in matches if (m.kind, m.authority, m.value) in wanted]
    patients = {m.patient_id: m.patient for m in found}
    if len(patients) > 1:
        raise OrderConflict(
            "the identifiers belong to different patients; merge the patients first",
            field="patient.identifiers",
        )
    changed: list[str] = []
    if patients:
        patient = next(iter(patients.values()))
        for name in ("family_name", "given_name", "birth_date", "sex"):
            value = getattr(patient_in, name)
            if value is not None and getattr(patient, name) != value:
                setattr(patient, name, value)
                changed.append(name)
        if changed:
            patient.save(update_fields=[*changed, "updated_at"])
    else:
        patient = Patient.objects.create(
            family_name=patient_in.family_name,
            given_name=patient_in.given_name or "",
            birth_date=patient_in.birth_date,
            sex=patient_in.sex or Patient._meta.get_field("sex").get_default(),
        )
    new_identifiers = sorted(wanted - {(m.kind, m.authority, m.value) for m in found})
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
        changed.append("identifiers")
    return patient, [f"patient.{name}" for name in changed]


def _apply_study_fields(study: Study, study_in: StudyInput) -> list[str]:
    """Set the stated fields on ``study``; return the names of those that changed."""
    changed = []
    for f in dataclasses.fields(StudyInput):
        value = getattr(study_in, f.name)
        if value is None or (f.name in KEPT_WHEN_BLANK and not value):
            continue
        if getattr(study, f.name) != value:
            setattr(study, f.name, value)
            changed.append(f.name)
    return changed


def _create(*, site: Site, order: OrderInput, actor: Actor, now: dt.datetime) -> OrderResult:
    if order.study is None or order.patient is None:
        raise OrderError("a new order needs its patient and study", field="study")
    missing = [name for name in REQUIRED_FOR_NEW if getattr(order.study, name) is None]
    if missing:
        raise OrderError(f"a new order needs {', '.join(missing)}", field=f"study.{missing[0]}")
    patient, _ = _resolve_patient(site, order.patient)
    study = Study(
        site=site,
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
        # Another request created the same accession number an instant ago: the retry finds it
        # and applies this order as an update.
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
    live.broadcast_after_commit(
        study_id=study.id, site_id=study.site_id, event="study.created", status=study.status
    )
    if order.images_available:
        study_mark_ready_locked(study, actor=actor, at=now)
    return OrderResult(study=study, outcome=OrderOutcome.CREATED)


def _update(
    *, site: Site, study: Study, order: OrderInput, actor: Actor, now: dt.datetime
) -> OrderResult:
    if study.status in TERMINAL_STATUSES:
        raise OrderConflict(
            f"accession {study.accession_number} is {study.status} and can no longer change",
            field="accession_number",
        )
    changed: list[str] = []
    if order.patient is not None:
        patient, changed = _resolve_patient(site, order.patient)
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
    data: dict[str, object] = {"changed": changed}
    # A held study that was ready goes back to its worklist on release: keep it current too.
    was_ready = study.status in UNREAD_STATUSES or (
        study.status == StudyStatus.ON_HOLD and study.ready_at is not None
    )
    if was_ready and CLASSIFICATION_INPUTS.intersection(study_changed):
        data["classification"] = study_reclassify_locked(study, at=now)
    if changed:
        StudyEvent.objects.create(
            study=study,
            from_status=study.status,
            to_status=study.status,
            actor_id=actor.user_id,
            actor_label=actor.label,
            at=now,
            reason="order updated",
            data=data,
        )
        live.broadcast_after_commit(
            study_id=study.id, site_id=study.site_id, event="study.updated", status=study.status
        )
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
    site = Site.objects.get(id=site_id)
    study = (
        Study.objects.select_for_update()
        .filter(site_id=site_id, accession_number=order.accession_number)
        .first()
    )
    if study is not None:
        study.site = site
    if study is None:
        if order.action is not OrderAction.NEW:
            raise OrderNotFound(
                f"no order with accession number {order.accession_number} at this site",
                field="accession_number",
            )
        result = _create(site=site, order=order, actor=actor, now=now)
    elif order.action is OrderAction.CANCEL:
        result = _cancel(study=study, order=order, actor=actor, now=now)
    else:
        result = _update(site=site, study=study, order=order, actor=actor, now=now)
    if inbound_id is not None:
        inbound_mark_applied(inbound_id=inbound_id, study_id=result.study.id)
    return result
