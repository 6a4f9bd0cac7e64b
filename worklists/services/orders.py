"""Order ingest: a site creates, updates or cancels an order with its patient.

Idempotent on site + accession number: the same order applied twice changes nothing the second
time. An update changes only what it states; a field it leaves out keeps its value. Everything
happens in one transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from worklists import live, validation
from worklists.actors import Actor
from worklists.errors import Conflict, DomainError, KeptForInspection, NotFound, UnreadableBody
from worklists.hooks import order_images
from worklists.lifecycle import TERMINAL_STATUSES
from worklists.models import (
    UNREAD_STATUSES,
    InboundMessage,
    Patient,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.services.inbound import (
    inbound_mark_applied,
    inbound_mark_failed,
    inbound_store,
)
from worklists.services.patient_identifiers import (
    ConcurrentCreate,
    IdentifierInput,
    IdentifierLocks,
    Keyed,
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

__all__ = [
    "IdentifierInput",
    "OrderAction",
    "OrderConflict",
    "OrderError",
    "OrderInput",
    "OrderLocks",
    "OrderNotFound",
    "OrderOutcome",
    "OrderReceipt",
    "OrderResult",
    "PatientInput",
    "StudyInput",
    "accession_for_study_uid",
    "order_apply",
    "order_receive",
    "orders_apply",
    "orders_apply_locked",
]


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


# Changing one of these after the study became READY re-runs classification and the deadline.
CLASSIFICATION_INPUTS = frozenset(
    {"modality", "body_part", "procedure_code", "procedure_text", "priority"}
)
# Identity set once and never taken away by an order that sends it blank: the images (DICOM)
# may have supplied the StudyInstanceUID the viewer link depends on, and the result sent back
# must carry the order numbers the RIS files it by.
KEPT_WHEN_BLANK = frozenset({"study_instance_uid", "placer_order_number", "filler_order_number"})


UID_ACCESSION_PREFIX = "UID-"


def accession_for_study_uid(study_instance_uid: str) -> str:
    """The accession number a study created from images without one is given, derived from
    its StudyInstanceUID (the same for every association that sends it). An order naming that
    UID adopts the study and gives it the order's accession number."""
    digest = hashlib.sha256(study_instance_uid.encode()).hexdigest()[:24]
    return UID_ACCESSION_PREFIX + digest


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


def _create(
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
    _broadcast(study, event="study.created")
    if order.images_available:
        study_mark_ready_locked(study, actor=actor, at=now)
    return OrderResult(study=study, outcome=OrderOutcome.CREATED)


def _update(
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
        _broadcast(study, event="study.updated")
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
    *,
    site_id: int,
    order: OrderInput,
    actor: Actor,
    inbound_id: int | None = None,
    site: Site | None = None,
) -> OrderResult:
    """Create, update or cancel the order ``order.accession_number`` of ``site_id``.

    ``site`` may be passed by a caller that has it already (the HL7 listener caches sites).
    """
    return orders_apply(
        site_id=site_id, orders=(order,), actor=actor, inbound_id=inbound_id, site=site
    )[0]


def orders_apply(
    *,
    site_id: int,
    orders: Sequence[OrderInput],
    actor: Actor,
    inbound_id: int | None = None,
    site: Site | None = None,
) -> list[OrderResult]:
    """Apply several orders of one message, all or none, and mark the message applied with
    them (one transaction: an acknowledgement after commit means the change is durable)."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                the_site = site if site is not None else Site.objects.get(id=site_id)
                return orders_apply_locked(
                    site=the_site, orders=orders, actor=actor, inbound_id=inbound_id
                )
        except ConcurrentCreate:
            continue
    raise OrderConflict(COLLIDING)


COLLIDING = "the order kept colliding with a concurrent change; send it again"


def orders_apply_locked(
    *,
    site: Site,
    orders: Sequence[OrderInput],
    actor: Actor,
    inbound_id: int | None = None,
    locks: OrderLocks | None = None,
) -> list[OrderResult]:
    """``orders_apply`` inside the caller's transaction (the HL7 listener applies a batch of
    messages in one): no savepoint, no retry. ``ConcurrentCreate`` means the transaction is
    broken and must be rolled back and run again. ``locks``: the batch's studies and identifiers,
    locked already."""
    results = [
        _order_apply_once(site=site, order=order, actor=actor, locks=locks) for order in orders
    ]
    if inbound_id is not None:
        inbound_mark_applied(
            inbound_id=inbound_id, study_id=results[0].study.id if results else None
        )
    return results


class AccessionLocks:
    """The studies of a batch's (site, accession number) pairs, locked in one statement at the
    start of the batch's transaction (in id order, so two batches lock alike), so each order
    skips its own lock query. Orders of the batch that create a study record it here.

    A study created by another transaction after this snapshot is not missed: its unique
    (site, accession number) makes our INSERT fail and the batch run again.
    """

    def __init__(self, wanted: Iterable[tuple[int, str]], rows: list[tuple[Any, ...]]) -> None:
        self._known: dict[tuple[int, str], int | None] = dict.fromkeys(wanted)
        for study_id, site_id, accession in rows:
            self._known[(site_id, accession)] = study_id

    @staticmethod
    def rows(wanted: Sequence[tuple[int, str]]) -> list[tuple[Any, ...]]:
        """The studies of ``wanted`` (site id, accession number), locked in id order."""
        if not wanted:
            return []
        matches = functools.reduce(
            operator.or_,
            (Q(site_id=site_id, accession_number=accession) for site_id, accession in wanted),
        )
        return list(
            Study.objects.select_for_update()
            .filter(matches)
            .order_by("id")
            .values_list("id", "site_id", "accession_number")
        )

    def knows(self, key: tuple[int, str]) -> bool:
        return key in self._known

    def study_id(self, key: tuple[int, str]) -> int | None:
        return self._known[key]

    def created(self, key: tuple[int, str], study_id: int) -> None:
        self._known[key] = study_id


@dataclass(frozen=True, slots=True)
class OrderLocks:
    """What a batch of messages will change, locked at the start of its transaction in one
    round trip, in the lock order of patients.py: the studies of its accession numbers (by
    id), then the identifiers that name its patients (by id)."""

    accessions: AccessionLocks
    identifiers: IdentifierLocks

    @classmethod
    def lock(
        cls, *, accessions: Iterable[tuple[int, str]], identifiers: Iterable[Keyed]
    ) -> OrderLocks:
        wanted_accessions = sorted(set(accessions))
        wanted_identifiers = sorted(set(identifiers))
        # studies first, then identifiers: the lock order of patients.py
        return cls(
            accessions=AccessionLocks(wanted_accessions, AccessionLocks.rows(wanted_accessions)),
            identifiers=IdentifierLocks(
                wanted_identifiers, IdentifierLocks.rows(wanted_identifiers)
            ),
        )


def _study_id_locked(site: Site, accession: str, locks: OrderLocks | None) -> int | None:
    """The id of the study of ``accession`` at ``site``, its row locked (by the batch already,
    or now)."""
    key = (site.id, accession)
    if locks is not None and locks.accessions.knows(key):
        return locks.accessions.study_id(key)
    return (
        Study.objects.select_for_update()
        .filter(site_id=site.id, accession_number=accession)
        .values_list("id", flat=True)
        .first()
    )


def _adopt(study: Study, *, order: OrderInput, actor: Actor, now: dt.datetime) -> None:
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
    StudyEvent.objects.create(
        study=study,
        from_status=study.status,
        to_status=study.status,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=now,
        reason="order received for images received without an order",
        data={
            "accession_number": {"from": derived, "to": order.accession_number},
            "study_instance_uid": study.study_instance_uid,
        },
    )


def _order_apply_once(
    *, site: Site, order: OrderInput, actor: Actor, locks: OrderLocks | None = None
) -> OrderResult:
    now = timezone.now()
    # Every channel's order meets the same rules before anything is written.
    order = validation.valid_order(order, today=timezone.localdate(now))
    key = (site.id, order.accession_number)
    study_id = _study_id_locked(site, order.accession_number, locks)
    adopted = False
    uid = order.study.study_instance_uid if order.study is not None else None
    if study_id is None and uid and order.action is not OrderAction.CANCEL:
        # Images may have come first without an accession number: the study made from them
        # is this order's (same site, same StudyInstanceUID), not a second one.
        study_id = _study_id_locked(site, accession_for_study_uid(uid), locks)
        adopted = study_id is not None
    # Most orders are new: only an existing (locked) study is loaded as a model.
    study = Study.objects.get(id=study_id) if study_id is not None else None
    if study is not None and adopted and study.study_instance_uid != uid:
        study = None  # a derived accession number shared by another UID: not this order's
        adopted = False
    if study is not None:
        study.site = site
    if study is not None and adopted:
        _adopt(study, order=order, actor=actor, now=now)
        if locks is not None:
            locks.accessions.created(key, study.id)
    if study is None:
        if order.action is not OrderAction.NEW:
            raise OrderNotFound(
                f"no order with accession number {order.accession_number} at this site",
                field="accession_number",
            )
        result = _create(site=site, order=order, actor=actor, now=now, locks=locks)
        if locks is not None:
            locks.accessions.created(key, result.study.id)
        return result
    if order.action is OrderAction.CANCEL:
        return _cancel(study=study, order=order, actor=actor, now=now)
    return _update(site=site, study=study, order=order, actor=actor, now=now, locks=locks)


@dataclass(frozen=True, slots=True)
class OrderReceipt:
    inbound_id: int
    result: OrderResult


def order_receive(
    *,
    site_id: int,
    site_code: str,
    raw: bytes,
    peer: str,
    content_type: str,
    read: Callable[[], OrderInput],
) -> OrderReceipt:
    """An order as a site's RIS posts it to the REST API: the body stored first (committed, so
    nothing is lost), then ``read`` (the caller's parser) and applied, or marked failed with
    the specific refusal. A refusal is raised as KeptForInspection naming the stored message;
    a fault of ours is stored as an internal error and raised as it is."""
    inbound = inbound_store(
        channel=InboundMessage.Channel.REST,
        raw=raw,
        site_id=site_id,
        peer=peer,
        content_type=content_type,
        message_type="order",
    )
    try:
        order = read()
        result = order_apply(
            site_id=site_id, order=order, actor=Actor.for_site(site_code), inbound_id=inbound.id
        )
    except DomainError as exc:
        inbound_mark_failed(inbound_id=inbound.id, error=exc.describe())
        raise KeptForInspection(exc, inbound_id=inbound.id) from exc
    except UnreadableBody as exc:
        inbound_mark_failed(inbound_id=inbound.id, error=str(exc.cause))
        raise KeptForInspection(exc.cause, inbound_id=inbound.id) from exc
    except Exception as exc:
        # Kept, with what went wrong, for reprocessing once the fault is fixed.
        inbound_mark_failed(inbound_id=inbound.id, error=f"internal error: {exc!r}")
        raise
    return OrderReceipt(inbound_id=inbound.id, result=result)
