"""What one order does to its study: create it, update what the order states, cancel it, or
adopt the study made from images that came first. Called by ``orders`` inside its transaction,
with the study's row locked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import IntegrityError

from worklists import live
from worklists.actors import Actor
from worklists.hooks import order_images
from worklists.lifecycle import TERMINAL_STATUSES
from worklists.models import UNREAD_STATUSES, Patient, Site, Study, StudyEvent, StudyStatus
from worklists.services.low_value import LOW_VALUE_INPUTS, study_flag_low_value_locked
from worklists.services.order_inputs import (
    OrderConflict,
    OrderInput,
    OrderOutcome,
    OrderResult,
    StudyInput,
)
from worklists.services.order_locks import OrderLocks
from worklists.services.patient_identifiers import (
    ConcurrentCreate,
    PatientConflict,
    PatientError,
    PatientInput,
)
from worklists.services.patients import patient_resolve_locked
from worklists.services.studies import (
    study_cancel_locked,
    study_mark_ready_locked,
    study_reclassify_locked,
)
from worklists.services.transitions import record_event

# Changing one of these after the study became READY re-runs classification and the deadline.
CLASSIFICATION_INPUTS = frozenset(
    {"modality", "body_part", "procedure_code", "procedure_text", "priority"}
)
# Identity set once and never taken away by an order that sends it blank: the images (DICOM)
# may have supplied the StudyInstanceUID the viewer link depends on, and the result sent back
# must carry the order numbers the RIS files it by.
KEPT_WHEN_BLANK = frozenset({"study_instance_uid", "placer_order_number", "filler_order_number"})


def _resolve_patient(
    site: Site, patient_in: PatientInput, locks: OrderLocks | None
) -> tuple[Patient, list[str]]:
    """The patient these identifiers name (created if new), and the demographics that changed."""
    try:
        patient, changed = patient_resolve_locked(
            site=site,
            patient_in=patient_in,
            identifiers=locks.identifiers if locks is not None else None,
        )
    except PatientConflict as exc:
        raise OrderConflict(
            f"{exc}; correct the patient with a merge", field="patient.identifiers"
        ) from exc
    except PatientError as exc:
        # e.g. a national number sent as the site's own: the order as sent cannot be applied
        raise OrderConflict(str(exc), field=exc.field) from exc
    assert patient is not None
    return patient, changed


def _broadcast(study: Study, *, event: str) -> None:
    live.broadcast_after_commit(
        study_id=study.id, site_id=study.site_id, event=event, status=study.status
    )


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


def order_create_locked(
    *, site: Site, order: OrderInput, actor: Actor, now: dt.datetime, locks: OrderLocks | None
) -> OrderResult:
    # validation.valid_order has refused a new order without them
    assert order.study is not None
    assert order.patient is not None
    patient, _ = _resolve_patient(site, order.patient, locks)
    study = Study(
        site=site,
        accession_number=order.accession_number,
        patient=patient,
        status=StudyStatus.ORDERED,
        status_changed_at=now,
    )
    _apply_study_fields(study, order.study)
    event = StudyEvent(
        from_status="",
        to_status=StudyStatus.ORDERED,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=now,
        reason="order received",
    )
    try:
        study.save(force_insert=True)
        event.study = study
        event.save(force_insert=True)
    except IntegrityError as exc:
        # Another request created the same accession number an instant ago: the whole
        # transaction is rolled back (no savepoint on the hot path) and the retry finds the
        # study and applies this order as an update.
        raise ConcurrentCreate from exc
    study_flag_low_value_locked(study, actor=actor, at=now)
    _broadcast(study, event="study.created")
    if order.images_available:
        study_mark_ready_locked(study, actor=actor, at=now)
    return OrderResult(study=study, outcome=OrderOutcome.CREATED)


def order_update_locked(
    *,
    site: Site,
    study: Study,
    order: OrderInput,
    actor: Actor,
    now: dt.datetime,
    locks: OrderLocks | None,
) -> OrderResult:
    if study.status in TERMINAL_STATUSES:
        raise OrderConflict(
            f"accession {study.accession_number} is {study.status} and can no longer change",
            field="accession_number",
        )
    changed: list[str] = []
    mismatch = ""
    images_patient_id = study.patient_id
    if order.patient is not None:
        patient, changed = _resolve_patient(site, order.patient, locks)
        if patient.id != study.patient_id:
            # Images that came first named their patient; their order names another. The
            # order is applied (the RIS owns the order and its patient), the study is held
            # and the coordinator alerted: the two patients are never merged silently.
            mismatch = order_images().patient_mismatch_locked(study, at=now)
            if not mismatch:
                raise OrderConflict(
                    f"accession {study.accession_number} belongs to another patient; "
                    "correct the patient with a merge, not by a changed order",
                    field="patient.identifiers",
                )
            study.patient = patient
    study_changed = _apply_study_fields(study, order.study) if order.study else []
    if mismatch:
        study_changed.append("patient")
    if study_changed:
        study.save(update_fields=[*study_changed, "updated_at"])
    changed.extend(study_changed)
    data: dict[str, object] = {"changed": changed}
    if mismatch:
        data["patient_mismatch"] = {"images_patient_id": images_patient_id, "reason": mismatch}
    # A held study that was ready goes back to its worklist on release: keep it current too.
    was_ready = study.status in UNREAD_STATUSES or (
        study.status == StudyStatus.ON_HOLD and study.ready_at is not None
    )
    if was_ready and CLASSIFICATION_INPUTS.intersection(study_changed):
        data["classification"] = study_reclassify_locked(study, at=now)
    if changed:
        record_event(
            study=study,
            actor=actor,
            at=now,
            reason="order updated",
            data=data,
        )
        _broadcast(study, event="study.updated")
    if LOW_VALUE_INPUTS.intersection(study_changed):
        study_flag_low_value_locked(study, actor=actor, at=now)
    if mismatch:
        order_images().hold_for_mismatch_locked(
            study, reason=mismatch, images_patient_id=images_patient_id, actor=actor, at=now
        )
    # The images may have come first (DICOM receiver): if complete, the order opens it.
    if study.status == StudyStatus.ORDERED and order_images().order_arrived_locked(
        study, actor=actor, at=now
    ):
        changed.append("status")
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


def order_cancel_locked(
    *, study: Study, order: OrderInput, actor: Actor, now: dt.datetime
) -> OrderResult:
    if study.status == StudyStatus.CANCELLED:
        return OrderResult(study=study, outcome=OrderOutcome.UNCHANGED)
    if study.status in TERMINAL_STATUSES:
        raise OrderConflict(
            f"accession {study.accession_number} is {study.status} and cannot be cancelled",
            field="accession_number",
        )
    study_cancel_locked(study, actor=actor, reason=order.reason or "order cancelled", at=now)
    return OrderResult(study=study, outcome=OrderOutcome.CANCELLED, changed_fields=["status"])


def order_adopt_locked(study: Study, *, order: OrderInput, actor: Actor, now: dt.datetime) -> None:
    """The study made from images without an accession number takes the order's (then the
    order applies to it as to a study whose images came first)."""
    derived = study.accession_number
    study.accession_number = order.accession_number
    try:
        # No savepoint on the hot path: a failure rolls the whole transaction back.
        study.save(update_fields=["accession_number", "updated_at"])
    except IntegrityError as exc:
        # Another order created this accession number an instant ago: the retry finds it.
        raise ConcurrentCreate from exc
    record_event(
        study=study,
        actor=actor,
        at=now,
        reason="order received for images received without an order",
        data={
            "accession_number": {"from": derived, "to": order.accession_number},
            "study_instance_uid": study.study_instance_uid,
        },
    )
