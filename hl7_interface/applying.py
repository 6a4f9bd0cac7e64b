"""Applying a batch of inbound HL7 messages in one transaction (group commit).

Every message of the batch is applied in ONE transaction, so the batch costs one commit, not one
per message. A message that fails is taken out and the others are applied again without it; its
error is kept on it, for the caller to store and answer.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from django.db import OperationalError, transaction

from hl7_interface import mapping
from hl7_interface.codec import Header, Hl7Error
from hl7_interface.senders import SiteEntry
from worklists import validation
from worklists.actors import Actor
from worklists.errors import DomainError, InvalidData
from worklists.services.inbound import (
    inbound_applied_many,
    inbound_mark_applied_many,
    inbound_mark_duplicate,
    inbound_mark_failed,
)
from worklists.services.order_locks import OrderLocks
from worklists.services.orders import (
    COLLIDING,
    OrderAction,
    OrderConflict,
    OrderInput,
    accession_for_study_uid,
    orders_apply_locked,
)
from worklists.services.patient_identifiers import (
    ConcurrentCreate,
    Keyed,
    PatientError,
    identifiers_keyed,
)
from worklists.services.patient_merge import patient_merge
from worklists.services.patients import patient_update

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchItem:
    """One message on its way through a batch."""

    raw: bytes
    peer: str
    header: Header | None
    entry: SiteEntry | None
    error: Hl7Error | None = None
    inbound_id: int = 0
    command: mapping.Command | None = None
    duplicate_of: int | None = None  # applied before this batch
    batch_duplicate_of: int | None = None  # applied earlier in this batch's transaction
    text: str = ""  # the AA's text


# Where an order service's complaint is in the message.
_FIELD_LOCATIONS = {
    "accession_number": ("OBR", 18),
    "patient": ("PID", 0),
    "patient.identifiers": ("PID", 3),
    "patient.birth_date": ("PID", 7),
    "prior": ("MRG", 1),
    "study": ("OBR", 0),
    "study.modality": ("OBR", 24),
    "study.procedure": ("OBR", 4),
    "study.ordered_at": ("ORC", 9),
}


def _as_hl7_error(exc: DomainError) -> Hl7Error:
    segment, field = _FIELD_LOCATIONS.get(exc.field, ("", 0))
    # A broken rule of the data (worklists.validation) is the sender's data error (102, or 101
    # when only required parts are missing); what the current state does not allow, an
    # application error (207).
    code = "207"
    if isinstance(exc, InvalidData):
        missing = all(p.message == validation.REQUIRED for p in exc.problems)
        code = "101" if missing else "102"
    return Hl7Error(str(exc), segment=segment, field=field, error_code=code)


class _TakeOut(Exception):
    """A message of the batch failed: roll the transaction back, run the others again."""


_RETRIED_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization failure


def apply_batch(items: list[BatchItem]) -> None:
    collisions = 0
    conflicts = 0
    while True:
        current: BatchItem | None = None
        try:
            with transaction.atomic():
                todo = [i for i in items if i.command is not None and i.error is None]
                todo = [i for i in todo if not i.text and i.duplicate_of is None]
                locks = OrderLocks.lock(
                    accessions=(key for item in todo for key in _accession_keys(item)),
                    identifiers=(key for item in todo for key in _identifier_keys(item)),
                )
                applied: dict[tuple[int, str], int] = {}
                marks: list[tuple[int, int | None]] = []
                for item in items:
                    item.batch_duplicate_of = None
                for item in todo:
                    assert item.entry is not None
                    assert item.header is not None
                    key = (item.entry.site.id, item.header.control_id)
                    if item.header.control_id and key in applied:
                        item.batch_duplicate_of = applied[key]
                        continue
                    current = item
                    marks.append((item.inbound_id, _apply_one(item, locks)))
                    current = None
                    if item.header.control_id:
                        applied[key] = item.inbound_id
                # Marked applied in the same commit (a compare-and-set: a message recovery or
                # a reprocess applied meanwhile is taken out and the batch run again). The
                # check for repeats made before this transaction may be stale: a copy of the
                # same message (the sender timed out and sent it again) may have been in its
                # own applying transaction then. The marking asks again, after every lock the
                # messages needed is held, so two copies are never both applied.
                missed = inbound_mark_applied_many(marks, unless_repeat=True)
                if missed:
                    _take_out_applied_meanwhile(todo, missed)
                    raise _TakeOut
                _mark_outcomes(items)
            return
        except _TakeOut:
            continue
        except ConcurrentCreate:
            # A concurrent transaction created the same patient or accession an instant ago:
            # run the batch again (it now finds the row); the third time, that message fails.
            collisions += 1
            if collisions >= 3 and current is not None:
                current.error = _as_hl7_error(OrderConflict(COLLIDING))
                collisions = 0
        except OperationalError as exc:
            # A deadlock with another listener process: both roll back, one wins, run again.
            if getattr(exc.__cause__, "sqlstate", None) not in _RETRIED_SQLSTATES:
                raise
            conflicts += 1
            if conflicts >= 5:
                raise


def _accession_keys(item: BatchItem) -> set[tuple[int, str]]:
    """(site id, accession number) of the studies an item's orders may apply to."""
    if item.entry is None or not isinstance(item.command, mapping.OrdersCommand):
        return set()
    return {
        (item.entry.site.id, accession)
        for order in item.command.orders
        for accession in _accessions(order)
    }


def _identifier_keys(item: BatchItem) -> set[Keyed]:
    """The identifiers the patients of an item's orders are named by, for the orders that
    resolve their patient (a cancel does not); none for an identifier the site may not send:
    the order's own resolution says why."""
    if item.entry is None or not isinstance(item.command, mapping.OrdersCommand):
        return set()
    keys: set[Keyed] = set()
    for order in item.command.orders:
        if order.patient is not None and order.action is not OrderAction.CANCEL:
            with contextlib.suppress(PatientError):
                keys |= identifiers_keyed(item.entry.site, order.patient.identifiers)
    return keys


def _accessions(order: OrderInput) -> tuple[str, ...]:
    """The accession numbers whose studies an order may apply to: its own, and the one a study
    made from images without an accession has (derived from the order's StudyInstanceUID),
    locked with the batch's studies."""
    uid = order.study.study_instance_uid if order.study is not None else None
    if uid and order.action is not OrderAction.CANCEL:
        return (order.accession_number, accession_for_study_uid(uid))
    return (order.accession_number,)


def _take_out_applied_meanwhile(todo: list[BatchItem], missed: set[int]) -> None:
    """The messages that could not be marked applied, answered when the batch runs again: a
    duplicate of the copy applied meanwhile, or "already applied" (this very row, by a
    recovery or a reprocess)."""
    originals = inbound_applied_many(
        [
            (item.entry.site.id, item.header.control_id)
            for item in todo
            if item.inbound_id in missed and item.entry is not None and item.header is not None
        ]
    )
    for item in todo:
        if item.inbound_id not in missed:
            continue
        assert item.entry is not None
        assert item.header is not None
        original = originals.get((item.entry.site.id, item.header.control_id))
        if original is not None and original != item.inbound_id:
            item.duplicate_of = original
        else:
            item.text = "already applied"


def _apply_one(item: BatchItem, locks: OrderLocks) -> int | None:
    """Apply one message of the batch (its study id, if any); a failure is recorded on it and
    ends the attempt."""
    assert item.command is not None
    assert item.entry is not None
    try:
        return _apply(item.command, entry=item.entry, locks=locks)
    except (ConcurrentCreate, OperationalError):
        raise
    except Hl7Error as exc:
        item.error = exc
    except DomainError as exc:
        item.error = _as_hl7_error(exc)
    except Exception as exc:
        # Our fault, not the sender's: kept with the error for reprocessing after a fix.
        logger.exception("HL7 message %s could not be applied", item.inbound_id)
        item.error = Hl7Error(f"internal error: {exc!r}", error_code="207")
    raise _TakeOut


def _mark_outcomes(items: list[BatchItem]) -> None:
    """Errors and repeats are stored with the applied messages (the same commit)."""
    for item in items:
        if item.error is not None:
            inbound_mark_failed(inbound_id=item.inbound_id, error=item.error.describe())
        elif item.duplicate_of is not None or item.batch_duplicate_of is not None:
            original = item.duplicate_of or item.batch_duplicate_of
            assert original is not None
            inbound_mark_duplicate(inbound_id=item.inbound_id, original_id=original)


def _apply(command: mapping.Command, *, entry: SiteEntry, locks: OrderLocks) -> int | None:
    """Apply inside the caller's transaction, which marks the message applied; the study id."""
    site = entry.site
    actor = Actor.for_site(site.code)
    if isinstance(command, mapping.OrdersCommand):
        results = orders_apply_locked(site=site, orders=command.orders, actor=actor, locks=locks)
        return results[0].study.id if results else None
    # Updates and merges may move identifiers between patients: the batch's snapshot of them
    # no longer holds.
    locks.identifiers.forget()
    if isinstance(command, mapping.PatientUpdateCommand):
        patient_update(site_id=site.id, patient=command.patient)
    else:
        patient_merge(site_id=site.id, surviving=command.patient, prior=command.prior, actor=actor)
    return None
