"""Order ingest under real concurrency: real threads against a real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from tests import factories
from tests.db_support import require_postgresql
from worklists.actors import Actor
from worklists.models import Patient, Study, StudyEvent
from worklists.services.order_locks import OrderLocks
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
    _study_id_locked,
    order_apply,
)
from worklists.services.patient_identifiers import identifiers_keyed, lock_identifier_keys

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SENDERS = 8


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    require_postgresql()


def _order(accession: str, fnr: str) -> OrderInput:
    from django.utils import timezone

    return OrderInput(
        accession_number=accession,
        action=OrderAction.NEW,
        images_available=True,
        patient=PatientInput(
            identifiers=(IdentifierInput(kind="FNR", value=fnr, authority="NO-FREG"),),
            family_name="Ødegård",
            given_name="Åse",
        ),
        study=StudyInput(
            modality="CT", procedure_text="CT caput uten kontrast", ordered_at=timezone.now()
        ),
    )


def _run_at_once(target, count: int) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            target(index)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_the_same_order_sent_by_many_connections_at_once_creates_one_study(site_a):
    fnr = factories.synthetic_fnr()
    order = _order("RACE-1", fnr)

    errors = _run_at_once(
        lambda _i: order_apply(site_id=site_a.id, order=order, actor=Actor.for_site("alfa")),
        SENDERS,
    )

    assert errors == []
    study = Study.objects.get()
    assert study.status == "READY"
    assert Patient.objects.count() == 1
    assert list(StudyEvent.objects.filter(study=study).values_list("from_status", "to_status")) == [
        ("", "ORDERED"),
        ("ORDERED", "READY"),
    ]


def test_orders_of_one_new_patient_at_once_share_one_patient(site_a):
    fnr = factories.synthetic_fnr()

    errors = _run_at_once(
        lambda i: order_apply(
            site_id=site_a.id, order=_order(f"SAME-PATIENT-{i}", fnr), actor=Actor.for_site("a")
        ),
        SENDERS,
    )

    assert errors == []
    assert Study.objects.count() == SENDERS
    assert Patient.objects.count() == 1


def test_a_batch_locking_its_rows_while_one_order_changes_them_waits_and_does_not_deadlock(
    site_a,
):
    # A single order (REST) locks its study, then its patient's identifiers; an HL7 batch locks
    # them up front. Both in the same order (studies first), or the two deadlock.
    fnr = factories.synthetic_fnr()
    order = _order("LOCK-ORDER", fnr)
    order_apply(site_id=site_a.id, order=order, actor=Actor.for_site("alfa"))
    assert order.patient is not None
    keys = identifiers_keyed(site_a, order.patient.identifiers)
    study_locked = threading.Event()
    errors: list[BaseException] = []

    def single_order() -> None:
        try:
            with transaction.atomic():
                _study_id_locked(site_a, "LOCK-ORDER", None)
                study_locked.set()
                # Long enough for the batch to send its locks and wait on one of them.
                threading.Event().wait(0.5)
                lock_identifier_keys(keys)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=single_order)
    thread.start()
    assert study_locked.wait(10)
    try:
        with transaction.atomic():
            locks = OrderLocks.lock(accessions=[(site_a.id, "LOCK-ORDER")], identifiers=keys)
    finally:
        thread.join(timeout=30)

    assert errors == []
    assert locks.accessions.study_id((site_a.id, "LOCK-ORDER")) is not None
    assert locks.identifiers.found(keys) == [(next(iter(keys)), Patient.objects.get().id)]
