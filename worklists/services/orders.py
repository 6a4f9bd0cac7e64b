"""Order ingest: a site creates, updates or cancels an order with its patient.

Idempotent on site + accession number: the same order applied twice changes nothing the second
time. An update changes only what it states; a field it leaves out keeps its value. Everything
happens in one transaction, so a failure leaves nothing half-written. What an order does to its
study is in ``order_changes``; the rows an HL7 batch locks up front, in ``order_locks``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from worklists import validation
from worklists.actors import Actor
from worklists.errors import DomainError, KeptForInspection, UnreadableBody
from worklists.models import InboundMessage, Site, Study
from worklists.services.inbound import (
    inbound_mark_applied,
    inbound_mark_failed,
    inbound_store,
)
from worklists.services.order_changes import (
    order_adopt_locked,
    order_cancel_locked,
    order_create_locked,
    order_update_locked,
)
from worklists.services.order_inputs import (
    OrderAction,
    OrderConflict,
    OrderError,
    OrderInput,
    OrderNotFound,
    OrderOutcome,
    OrderResult,
    StudyInput,
)
from worklists.services.order_locks import OrderLocks
from worklists.services.patient_identifiers import (
    ConcurrentCreate,
    IdentifierInput,
    PatientInput,
)

# The ingest API: its entry points and the vocabulary an order is written in. The vocabulary is
# defined in order_inputs (and patient_identifiers) but named here too, as it always was: the
# channels that build orders (REST serializers, HL7 mapping, the demo, benchmarks and tests)
# import it with the entry point they call, from this one module.
__all__ = [
    "IdentifierInput",
    "OrderAction",
    "OrderConflict",
    "OrderError",
    "OrderInput",
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


UID_ACCESSION_PREFIX = "UID-"


def accession_for_study_uid(study_instance_uid: str) -> str:
    """The accession number a study created from images without one is given, derived from
    its StudyInstanceUID (the same for every association that sends it). An order naming that
    UID adopts the study and gives it the order's accession number."""
    digest = hashlib.sha256(study_instance_uid.encode()).hexdigest()[:24]
    return UID_ACCESSION_PREFIX + digest


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
        order_adopt_locked(study, order=order, actor=actor, now=now)
        if locks is not None:
            locks.accessions.created(key, study.id)
    if study is None:
        if order.action is not OrderAction.NEW:
            raise OrderNotFound(
                f"no order with accession number {order.accession_number} at this site",
                field="accession_number",
            )
        result = order_create_locked(site=site, order=order, actor=actor, now=now, locks=locks)
        if locks is not None:
            locks.accessions.created(key, result.study.id)
        return result
    if order.action is OrderAction.CANCEL:
        return order_cancel_locked(study=study, order=order, actor=actor, now=now)
    return order_update_locked(
        site=site, study=study, order=order, actor=actor, now=now, locks=locks
    )


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
