"""Group commit: the frames waiting when a listener worker is free are applied in one
transaction, and one bad message can neither fail nor lose the others."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from demo_ris.orders import adt_a40, orm_o01
from hl7_interface import services
from hl7_interface.listener import running_listener
from hl7_interface.workers import WorkerPool
from tests import factories
from tests.hl7_support import ack_of, hl7_site, send, spec
from worklists.models import InboundMessage, Patient, PatientIdentifier, Study, StudyEvent
from worklists.services.inbound import inbound_mark_applied_many, inbound_store

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = (hl7_site,)
PEER = "127.0.0.1:1"


def _statuses() -> list[tuple[str, str]]:
    return list(
        InboundMessage.objects.filter(channel="HL7")
        .order_by("id")
        .values_list("status", "message_id")
    )


def test_a_batch_applies_the_good_messages_and_answers_each_bad_one_with_its_error(
    hl7_site, general_worklist
):
    frames = [
        orm_o01(spec("ACC-B1"), facility="ALFA", control_id="B1"),
        # Fails inside the transaction, after it has read the database.
        orm_o01(spec("ACC-NONE", control="XO"), facility="ALFA", control_id="B2"),
        # Fails while parsing, before the transaction.
        orm_o01(spec("ACC-B3"), facility="ALFA", control_id="B3").replace(b"|CT\r", b"|PET-CT\r"),
        orm_o01(spec("ACC-B4"), facility="ALFA", control_id="B4"),
        orm_o01(spec("ACC-B5"), facility="NOBODY", control_id="B5"),
    ]

    results = services.hl7_receive_batch([(raw, PEER) for raw in frames])

    acks = [ack_of(result.ack) for result in results]
    assert [ack.code for ack in acks] == ["AA", "AE", "AE", "AA", "AR"]
    assert [ack.control_id for ack in acks] == ["B1", "B2", "B3", "B4", "B5"]
    assert "no order with accession number ACC-NONE" in acks[1].text
    assert "OBR-24: unknown modality" in acks[2].text
    assert "MSH-4: unknown sending facility" in acks[4].text
    assert _statuses() == [
        ("APPLIED", "B1"),
        ("FAILED", "B2"),
        ("FAILED", "B3"),
        ("APPLIED", "B4"),
        ("FAILED", "B5"),
    ]
    failed = InboundMessage.objects.get(message_id="B2")
    assert "no order with accession number ACC-NONE" in failed.error
    assert bytes(failed.raw) == frames[1]
    assert set(Study.objects.values_list("accession_number", flat=True)) == {"ACC-B1", "ACC-B4"}
    # The good ones were applied again without the bad one: once each, not twice.
    assert StudyEvent.objects.filter(reason="order received").count() == 2
    applied = InboundMessage.objects.get(message_id="B4")
    assert applied.study_id == Study.objects.get(accession_number="ACC-B4").id


def test_a_message_id_repeated_within_one_batch_is_a_duplicate_and_changes_nothing(
    hl7_site, general_worklist
):
    raw = orm_o01(spec("ACC-TWICE"), facility="ALFA", control_id="TWICE-1")

    first, again = services.hl7_receive_batch([(raw, PEER), (raw, PEER)])

    assert (first.ack_code, again.ack_code) == ("AA", "AA")
    assert f"duplicate of message {first.inbound_id}" in ack_of(again.ack).text
    assert _statuses() == [("APPLIED", "TWICE-1"), ("DUPLICATE", "TWICE-1")]
    assert StudyEvent.objects.count() == 1


def test_a_new_order_and_its_change_in_one_batch_are_applied_in_order(hl7_site, general_worklist):
    order = spec("ACC-SEQ", priority="R")
    frames = [
        orm_o01(order, facility="ALFA"),
        orm_o01(spec("ACC-SEQ", fnr=order.fnr, control="XO", priority="S"), facility="ALFA"),
        orm_o01(spec("ACC-SEQ", fnr=order.fnr, control="CA"), facility="ALFA"),
    ]

    results = services.hl7_receive_batch([(raw, PEER) for raw in frames])

    assert [r.ack_code for r in results] == ["AA", "AA", "AA"]
    study = Study.objects.get(accession_number="ACC-SEQ")
    assert (study.priority, study.status) == ("STAT", "CANCELLED")
    reasons = list(study.events.order_by("id").values_list("reason", flat=True))
    assert reasons[:2] == ["order received", "order updated"]
    assert all(s == "APPLIED" for s, _ in _statuses())


def test_two_orders_of_one_new_patient_in_one_batch_make_one_patient(hl7_site, general_worklist):
    # The batch locks its identifiers once, before either order exists: the second order must
    # still find the patient the first one created.
    fnr = factories.synthetic_fnr()
    frames = [orm_o01(spec(accession, fnr=fnr), facility="ALFA") for accession in ("P1", "P2")]

    results = services.hl7_receive_batch([(raw, PEER) for raw in frames])

    assert [r.ack_code for r in results] == ["AA", "AA"]
    assert Patient.objects.count() == 1
    assert PatientIdentifier.objects.filter(value=fnr).count() == 1
    assert {s.patient_id for s in Study.objects.all()} == {Patient.objects.get().id}


def test_an_order_after_a_merge_in_the_same_batch_goes_to_the_surviving_patient(
    hl7_site, general_worklist
):
    survivor_order = spec("S1")
    prior_fnr = factories.synthetic_fnr()
    services.hl7_receive(raw=orm_o01(survivor_order, facility="ALFA"), peer=PEER)
    services.hl7_receive(
        raw=orm_o01(spec("P1", fnr=prior_fnr, local_id="MRN-P"), facility="ALFA"), peer=PEER
    )
    survivor = Study.objects.get(accession_number="S1").patient
    frames = [
        adt_a40(survivor_order, prior_local_id="MRN-P", facility="ALFA"),
        # Names the prior patient's number, which the merge just moved to the survivor.
        orm_o01(spec("P2", fnr=prior_fnr), facility="ALFA"),
    ]

    results = services.hl7_receive_batch([(raw, PEER) for raw in frames])

    assert [r.ack_code for r in results] == ["AA", "AA"]
    assert Study.objects.get(accession_number="P2").patient == survivor
    assert PatientIdentifier.objects.get(value=prior_fnr).patient == survivor


def test_marking_a_batch_applied_leaves_out_a_message_applied_meanwhile(hl7_site):
    ids = [
        inbound_store(channel="HL7", raw=b"MSH|^~\\&|", site_id=hl7_site.id).id for _ in range(3)
    ]
    InboundMessage.objects.filter(id=ids[1]).update(status="APPLIED")

    missed = inbound_mark_applied_many([(ids[0], None), (ids[1], None), (ids[2], None)])

    assert missed == {ids[1]}
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {"APPLIED"}


def test_frames_waiting_for_a_busy_worker_are_handed_over_as_one_batch():
    batches: list[list[bytes]] = []
    release = threading.Event()
    pool = WorkerPool(1, on_frames=lambda frames: _record(batches, frames), batch_max=3)

    async def main() -> list[object]:
        busy = pool.run(release.wait)
        waiting = [pool.receive(f"m{i}".encode(), PEER) for i in range(5)]
        release.set()
        await busy
        return list(await asyncio.gather(*waiting))

    try:
        answers = asyncio.run(main())
    finally:
        pool.stop()

    assert answers == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert batches == [[b"m0", b"m1", b"m2"], [b"m3", b"m4"]]


def _record(batches: list[list[bytes]], frames: list[tuple[bytes, str]]) -> list[bytes]:
    batches.append([payload for payload, _peer in frames])
    return [payload for payload, _peer in frames]


def test_concurrent_senders_over_one_worker_are_all_applied_and_acknowledged(
    hl7_site, general_worklist
):
    with running_listener(workers=1) as listener:

        def sender(n: int) -> list[str]:
            return [
                send(listener.port, orm_o01(spec(f"ACC-C{n}-{i}"), facility="ALFA")).code
                for i in range(4)
            ]

        with ThreadPoolExecutor(8) as executor:
            codes = [code for codes in executor.map(sender, range(8)) for code in codes]

    assert codes == ["AA"] * 32
    assert Study.objects.count() == 32
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {"APPLIED"}


def test_a_worker_waits_briefly_for_the_frames_of_senders_that_are_sending():
    batches: list[list[bytes]] = []
    submitted: list[bytes] = []
    # Two senders are active: until both have sent, one more frame is expected.
    pool = WorkerPool(
        1,
        on_frames=lambda frames: _record(batches, frames),
        batch_max=8,
        window=5.0,
        expected=lambda: 2 - len(submitted),
    )

    async def main() -> list[object]:
        submitted.append(b"a")
        first = pool.receive(b"a", PEER)
        await asyncio.sleep(0.05)
        submitted.append(b"b")
        second = pool.receive(b"b", PEER)
        return list(await asyncio.gather(first, second))

    try:
        answers = asyncio.run(main())
    finally:
        pool.stop()

    assert answers == [b"a", b"b"]
    assert batches == [[b"a", b"b"]]


def test_a_lone_sender_is_not_kept_waiting_for_a_batch_to_fill():
    batches: list[list[bytes]] = []
    pool = WorkerPool(
        1,
        on_frames=lambda frames: _record(batches, frames),
        batch_max=8,
        window=5.0,
        expected=lambda: 0,
    )

    async def main() -> object:
        return await asyncio.wait_for(pool.receive(b"a", PEER), 2.0)

    try:
        answer = asyncio.run(main())
    finally:
        pool.stop()

    assert answer == b"a"
    assert batches == [[b"a"]]
