"""The MLLP listener over real sockets: orders in, ACK after commit, every bad case answered."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from demo_ris.orders import PROCEDURES, omi_o23, orm_o01
from hl7_interface import services
from hl7_interface.client import MllpClient, MllpError
from hl7_interface.codec import read_header
from hl7_interface.listener import running_listener
from hl7_interface.mllp import frame
from hl7_interface.models import SiteHl7Config
from tests import factories
from tests.hl7_support import ack_of, hl7_site, listener, send, spec
from tests.live_support import GroupListener
from worklists.models import InboundMessage, PatientIdentifier, Study, StudyEvent

pytestmark = pytest.mark.django_db(transaction=True)
# Fixtures shared by the HL7 modules (pytest finds them by name in this module).
FIXTURES = (hl7_site, listener)


def _stored(**filters) -> InboundMessage:
    return InboundMessage.objects.filter(channel="HL7", **filters).latest("id")


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5"])
def test_a_new_order_is_stored_applied_and_acknowledged_after_commit(listener, version):
    order = spec(
        "ACC-NW",
        study_uid="1.2.826.0.1.3680043.8.498.1",
        priority="S",
        question="Akutt hodepine | spørsmål om blødning",
        ordered_at=dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC),
    )
    raw = orm_o01(order, facility="ALFA", version=version)
    ack = send(listener.port, raw)

    assert ack.code == "AA"
    study = Study.objects.select_related("patient").get(accession_number="ACC-NW")
    assert study.status == "ORDERED"
    assert study.modality == "CT"
    assert (study.procedure_code, study.procedure_coding_system) == ("SA0AA", "NCRP")
    assert study.procedure_text == "CT caput uten kontrast"
    assert study.priority == "STAT"
    assert study.clinical_question == "Akutt hodepine | spørsmål om blødning"
    assert study.referring_physician == "Lars Lege"
    assert study.study_instance_uid == "1.2.826.0.1.3680043.8.498.1"
    assert study.ordered_at == dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)
    assert (study.patient.family_name, study.patient.given_name) == ("Ødegård", "Åse")
    assert study.patient.birth_date == dt.date(1970, 5, 17)
    assert PatientIdentifier.objects.get(patient=study.patient).value == order.fnr
    inbound = _stored()
    assert inbound.status == "APPLIED"
    assert inbound.study_id == study.id
    assert inbound.message_type == "ORM^O01"
    assert inbound.peer.startswith("127.0.0.1:")
    assert bytes(inbound.raw) == raw
    assert StudyEvent.objects.filter(study=study, to_status="ORDERED").count() == 1


def test_each_order_of_one_message_keeps_its_own_placer_and_filler_numbers(listener):
    first = spec("ACC-M1", placer="PL-1", filler="FI-1")
    second = spec("ACC-M2", fnr=first.fnr, placer="PL-2", filler="FI-2", procedure=PROCEDURES[1])

    assert send(listener.port, orm_o01(first, facility="ALFA", more=[second])).code == "AA"

    numbers = Study.objects.order_by("accession_number").values_list(
        "accession_number", "placer_order_number", "filler_order_number", "procedure_code"
    )
    assert list(numbers) == [
        ("ACC-M1", "PL-1", "FI-1", PROCEDURES[0][0]),
        ("ACC-M2", "PL-2", "FI-2", PROCEDURES[1][0]),
    ]


def test_an_order_number_too_long_to_keep_is_ae_naming_its_field(listener):
    order = spec("ACC-LONG-PLACER", placer="P" * 200)

    ack = send(listener.port, orm_o01(order, facility="ALFA"))

    assert ack.code == "AE"
    assert "ORC-2: the placer order number is 200 characters, at most 199 are kept" in ack.text
    assert not Study.objects.filter(accession_number="ACC-LONG-PLACER").exists()
    assert _stored().status == "FAILED"


def test_omi_o23_takes_accession_and_uid_from_ipc_and_priority_from_tq1(listener):
    order = spec("ACC-OMI", study_uid="1.2.3.4.5", priority="A", procedure=PROCEDURES[1])
    ack = send(listener.port, omi_o23(order, facility="ALFA"))

    assert ack.code == "AA"
    study = Study.objects.get(accession_number="ACC-OMI")
    assert (study.study_instance_uid, study.priority, study.modality) == (
        "1.2.3.4.5",
        "URGENT",
        "MR",
    )
    assert _stored().message_type == "OMI^O23"


def test_xo_changes_the_order_and_sc_completed_opens_it_for_reading(listener):
    send(
        listener.port,
        orm_o01(spec("ACC-XO", fnr=(fnr := factories.synthetic_fnr())), facility="ALFA"),
    )

    changed = spec("ACC-XO", fnr=fnr, control="XO", procedure=PROCEDURES[2], priority="A")
    assert send(listener.port, orm_o01(changed, facility="ALFA")).code == "AA"
    study = Study.objects.get(accession_number="ACC-XO")
    assert (study.procedure_text, study.priority) == ("CT thorax med kontrast", "URGENT")
    assert study.status == "ORDERED"

    done = spec("ACC-XO", fnr=fnr, control="SC", order_status="CM", procedure=PROCEDURES[2])
    assert send(listener.port, orm_o01(done, facility="ALFA")).code == "AA"
    study.refresh_from_db()
    assert study.status == "READY"
    assert study.worklist is not None
    assert study.deadline is not None


@pytest.mark.parametrize("control", ["CA", "DC"])
def test_ca_and_dc_cancel_the_order_with_the_reason(listener, control):
    fnr = factories.synthetic_fnr()
    send(listener.port, orm_o01(spec("ACC-CA", fnr=fnr), facility="ALFA"))
    cancel = spec("ACC-CA", fnr=fnr, control=control, cancel_reason=("PAT", "Pasienten døde"))

    assert send(listener.port, orm_o01(cancel, facility="ALFA")).code == "AA"
    study = Study.objects.get(accession_number="ACC-CA")
    assert study.status == "CANCELLED"
    assert study.events.get(to_status="CANCELLED").reason == "Pasienten døde"


def test_a_cancel_for_an_unknown_accession_is_ae_and_kept(listener):
    ack = send(listener.port, orm_o01(spec("NOPE", control="CA"), facility="ALFA"))

    assert ack.code == "AE"
    assert "no order with accession number NOPE" in ack.text
    assert _stored().status == "FAILED"


def test_latin1_message_keeps_norwegian_letters(listener):
    order = spec("ACC-L1", family="Ærø-Håland", given="Øyvind", question="Smerter i kneet, æøå ÆØÅ")
    ack = send(listener.port, orm_o01(order, facility="ALFA", charset="8859/1"))

    assert ack.code == "AA"
    study = Study.objects.select_related("patient").get(accession_number="ACC-L1")
    assert study.patient.family_name == "Ærø-Håland"
    assert study.clinical_question == "Smerter i kneet, æøå ÆØÅ"


def test_empty_msh18_means_the_sites_configured_charset(listener, hl7_site):
    SiteHl7Config.objects.filter(site=hl7_site).update(default_charset="8859/1")
    services.sites.clear()
    raw = orm_o01(spec("ACC-DEF", family="Bjørnstad"), facility="ALFA", charset="8859/1")
    raw = raw.replace(b"|8859/1", b"")

    assert send(listener.port, raw).code == "AA"
    assert Study.objects.get(accession_number="ACC-DEF").patient.family_name == "Bjørnstad"


def test_frames_split_byte_by_byte_and_packed_together_are_all_answered_in_order(listener):
    messages = [orm_o01(spec(f"ACC-P{i}"), facility="ALFA") for i in range(3)]
    with MllpClient("127.0.0.1", listener.port) as client:
        for byte in frame(messages[0]):
            client.send_raw(bytes([byte]))
        first = ack_of(client.receive())
        client.send_raw(frame(messages[1]) + frame(messages[2]))
        second, third = ack_of(client.receive()), ack_of(client.receive())

    assert [a.code for a in (first, second, third)] == ["AA", "AA", "AA"]
    assert [a.control_id for a in (first, second, third)] == [
        read_header(m).control_id for m in messages
    ]
    assert Study.objects.filter(accession_number__startswith="ACC-P").count() == 3


def test_twenty_concurrent_senders_each_get_every_order_applied(listener):
    senders, each = 20, 3
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(senders)

    def sender(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            with MllpClient("127.0.0.1", listener.port, timeout=60) as client:
                results[index] = [
                    client.send_message(orm_o01(spec(f"C{index}-{n}"), facility="ALFA")).code
                    for n in range(each)
                ]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert results == {index: ["AA"] * each for index in range(senders)}
    assert Study.objects.count() == senders * each
    assert InboundMessage.objects.filter(status="APPLIED").count() == senders * each


def _latin1_declared_utf8() -> bytes:
    raw = orm_o01(spec("ACC-BAD", family="Ødegård"), facility="ALFA", charset="8859/1")
    return raw.replace(b"8859/1", b"UNICODE UTF-8")


MALFORMED = [
    ("no MSH", lambda: b"PID|1||123^^^NO-FREG\rORC|NW\r", "AR", "does not start with an MSH"),
    (
        "wrong separators",
        lambda: orm_o01(spec("ACC-SEP"), facility="ALFA").replace(b"MSH|^~\\&|", b"MSH|^^\\&|", 1),
        "AR",
        "four distinct encoding characters",
    ),
    (
        "unknown type",
        lambda: orm_o01(spec("ACC-T"), facility="ALFA").replace(b"ORM^O01", b"ORU^R01", 1),
        "AR",
        "MSH-9: message type not supported",
    ),
    (
        "unsupported version",
        lambda: orm_o01(spec("ACC-V"), facility="ALFA", version="2.1"),
        "AR",
        "MSH-12: version not supported",
    ),
    (
        "bad date",
        lambda: orm_o01(spec("ACC-D"), facility="ALFA").replace(b"|19700517|", b"|19701317|"),
        "AE",
        "PID-7: not a real date/time",
    ),
    (
        "missing accession",
        lambda: orm_o01(spec("ACC-X"), facility="ALFA").replace(b"|ACC-X|", b"||"),
        "AE",
        "OBR-18: accession number missing",
    ),
    ("Latin-1 declared as UTF-8", _latin1_declared_utf8, "AE", "byte 0xD8"),
    (
        "unknown sender",
        lambda: orm_o01(spec("ACC-U"), facility="NOBODY"),
        "AR",
        "MSH-4: unknown sending facility",
    ),
    (
        "invalid national number",
        lambda: orm_o01(spec("ACC-N", fnr="12345678901"), facility="ALFA"),
        "AE",
        "PID-3: not a valid national identity number",
    ),
    (
        "a NUL character in a field",
        lambda: orm_o01(spec("ACC-NUL"), facility="ALFA").replace(b"|ACC-NUL|", b"|ACC-\x00|"),
        "AE",
        "NUL character (0x00)",
    ),
    (
        "unknown order control",
        lambda: orm_o01(spec("ACC-OC", control="ZZ"), facility="ALFA"),
        "AE",
        "ORC-1: order control not supported",
    ),
]


@pytest.mark.parametrize(
    ("payload", "code", "text"),
    [pytest.param(p, c, t, id=name) for name, p, c, t in MALFORMED],
)
def test_each_malformed_message_is_answered_and_kept_and_the_listener_keeps_serving(
    listener, payload, code, text
):
    raw = payload()
    with MllpClient("127.0.0.1", listener.port) as client:
        ack = client.send_message(raw)
        after = client.send_message(orm_o01(spec("ACC-AFTER"), facility="ALFA"))

    assert ack.code == code
    assert text in ack.text
    assert "ERR" in ack.raw.decode()
    kept = InboundMessage.objects.get(raw=raw)
    assert kept.status == "FAILED"
    assert text in kept.error
    assert after.code == "AA"
    assert Study.objects.filter(accession_number="ACC-AFTER").exists()


def test_a_nul_in_the_message_id_is_answered_and_kept_with_its_bytes(listener):
    """PostgreSQL's text refuses NUL: the columns read from the header show it as U+FFFD, the
    raw bytes keep it, and the sender is answered with its own message id."""
    sent = orm_o01(spec("ACC-NULID"), facility="ALFA")
    control_id = read_header(sent).control_id
    raw = sent.replace(f"|{control_id}|".encode(), f"|{control_id}\x00|".encode(), 1)

    with MllpClient("127.0.0.1", listener.port) as client:
        ack = client.send_message(raw)

    assert ack.code == "AE"
    assert ack.control_id == f"{control_id}\x00"
    kept = InboundMessage.objects.get(raw=raw)
    assert kept.message_id == f"{control_id}\N{REPLACEMENT CHARACTER}"
    assert kept.status == "FAILED"
    assert "NUL character (0x00)" in kept.error
    assert not Study.objects.filter(accession_number="ACC-NULID").exists()


def test_an_oversize_frame_is_refused_kept_and_the_connection_keeps_serving(
    hl7_site, general_worklist
):
    with running_listener(workers=2, max_frame_bytes=2000) as small:
        big = orm_o01(spec("ACC-BIG", question="x" * 5000), facility="ALFA")
        with MllpClient("127.0.0.1", small.port) as client:
            ack = client.send_message(big)
            after = client.send_message(orm_o01(spec("ACC-SMALL"), facility="ALFA"))

    assert ack.code == "AR"
    assert f"the frame is {len(big)} bytes, over the maximum of" in ack.text
    kept = InboundMessage.objects.get(status="FAILED")
    assert bytes(kept.raw) == big[:2000]
    assert after.code == "AA"


def test_a_sender_from_an_address_not_allowed_for_its_site_is_refused(listener, hl7_site):
    SiteHl7Config.objects.filter(site=hl7_site).update(allowed_source_addresses="10.0.0.0/8")
    services.sites.clear()

    ack = send(listener.port, orm_o01(spec("ACC-ADDR"), facility="ALFA"))

    assert ack.code == "AR"
    assert "not accepted from address 127.0.0.1" in ack.text
    assert not Study.objects.exists()


def test_a_repeated_message_id_is_acknowledged_again_and_changes_nothing(listener):
    raw = orm_o01(spec("ACC-DUP"), facility="ALFA", control_id="DUP-1")
    first = send(listener.port, raw)
    events = StudyEvent.objects.count()

    again = send(listener.port, raw)

    assert (first.code, again.code) == ("AA", "AA")
    assert "duplicate of message" in again.text
    assert Study.objects.count() == 1
    assert StudyEvent.objects.count() == events
    statuses = list(InboundMessage.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["APPLIED", "DUPLICATE"]


def test_a_message_stored_but_not_applied_is_applied_once_when_the_listener_restarts(
    hl7_site, general_worklist
):
    # The state a listener killed between storing and applying leaves behind.
    raw = orm_o01(spec("ACC-CRASH"), facility="ALFA", control_id="CRASH-1")
    services.inbound_store(
        channel="HL7",
        raw=raw,
        site_id=hl7_site.id,
        peer="127.0.0.1:5000",
        message_type="ORM^O01",
        message_id="CRASH-1",
    )

    with running_listener(workers=2) as restarted:
        assert Study.objects.filter(accession_number="ACC-CRASH").count() == 1
        # The sender never got its ACK and sends the message again: acknowledged, not re-applied.
        again = send(restarted.port, raw)
    with running_listener(workers=2):
        pass  # a second restart finds nothing left to do

    assert again.code == "AA"
    assert Study.objects.filter(accession_number="ACC-CRASH").count() == 1
    assert StudyEvent.objects.filter(study__accession_number="ACC-CRASH").count() == 1
    assert list(InboundMessage.objects.order_by("id").values_list("status", flat=True)) == [
        "APPLIED",
        "DUPLICATE",
    ]


def test_a_failed_message_is_reprocessed_after_the_fix(listener, hl7_site):
    raw = orm_o01(spec("ACC-FIX"), facility="ALFA").replace(b"|CT\r", b"|PET-CT\r")
    ack = send(listener.port, raw)
    assert ack.code == "AE"
    assert "OBR-24: unknown modality" in ack.text
    inbound = _stored()

    # The fix here is the site's RIS mapping; the stored bytes are corrected in place by an
    # administrator and reprocessed.
    InboundMessage.objects.filter(id=inbound.id).update(raw=raw.replace(b"|PET-CT\r", b"|PT\r"))
    result = services.hl7_reprocess(inbound_id=inbound.id)

    assert result.ack_code == "AA"
    assert Study.objects.get(accession_number="ACC-FIX").modality == "PT"
    assert InboundMessage.objects.get(id=inbound.id).status == "APPLIED"
    connections.close_all()


def test_python_hl7_mllp_send_drives_the_listener(listener, tmp_path: Path):
    messages = [orm_o01(spec(f"ACC-M{i}"), facility="ALFA") for i in range(2)]
    source = tmp_path / "orders.hl7"
    # mllp_send reads MLLP frames from the file and prints each answer.
    source.write_bytes(b"".join(frame(m) for m in messages))
    mllp_send = Path(sys.executable).with_name("mllp_send")

    result = subprocess.run(  # noqa: S603
        [str(mllp_send), "-p", str(listener.port), "-f", str(source), "127.0.0.1"],
        capture_output=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.count(b"MSA|AA|") == 2
    assert Study.objects.filter(accession_number__startswith="ACC-M").count() == 2


def test_an_idle_connection_is_closed(hl7_site, general_worklist):
    with running_listener(workers=1, idle_timeout=0.3) as idle:
        sock = socket.create_connection(("127.0.0.1", idle.port), timeout=5)
        start = time.monotonic()
        assert sock.recv(10) == b""
        assert time.monotonic() - start < 4
        sock.close()


def test_orders_over_the_listener_reach_the_live_sockets_in_batches(listener):
    with GroupListener("worklist.all") as sockets:
        for i in range(3):
            send(listener.port, orm_o01(spec(f"ACC-LIVE{i}"), facility="ALFA"))
        received = sockets.messages(at_least=3)
    ids = set(Study.objects.values_list("id", flat=True))
    assert {(m["event"], m["study_id"]) for m in received} == {("study.created", i) for i in ids}


def test_a_new_order_costs_a_bounded_number_of_queries(
    hl7_site, general_worklist, django_assert_max_num_queries
):
    services.sites.get("ALFA")  # the site is cached after the first message
    raw = orm_o01(spec("ACC-Q"), facility="ALFA")

    # The store and the repeat check in a transaction of their own (BEGIN, on PostgreSQL the
    # commit told not to wait for its WAL flush: the applying commit flushes it, INSERT,
    # SELECT, COMMIT); then BEGIN, lock study and identifiers, patient, identifier, study,
    # event, the active low-value rules, mark applied, COMMIT.
    with django_assert_max_num_queries(15 if connection.vendor == "postgresql" else 14):
        result = services.hl7_receive(raw=raw, peer="127.0.0.1:1")

    assert result.ack_code == "AA"


def test_an_accession_number_too_long_to_keep_is_ae_not_an_internal_error(listener):
    ack = send(listener.port, orm_o01(spec("A" * 70), facility="ALFA"))

    assert ack.code == "AE"
    assert "OBR-18: the accession number is 70 characters, at most 64 are kept" in ack.text


def test_a_lost_database_connection_sends_no_ack_and_the_resend_applies_once(listener):
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("a database backend is terminated on PostgreSQL only")
    fnr = factories.synthetic_fnr()
    send(listener.port, orm_o01(spec("ACC-T", fnr=fnr), facility="ALFA"))
    change = orm_o01(spec("ACC-T", fnr=fnr, control="XO", priority="S"), facility="ALFA")
    with transaction.atomic():
        Study.objects.select_for_update().get(accession_number="ACC-T")
        client = MllpClient("127.0.0.1", listener.port, timeout=30)
        client.send_raw(frame(change))
        with connection.cursor() as cursor:
            for _ in range(200):
                # Activity is a snapshot per transaction unless cleared.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                    "AND pid <> pg_backend_pid()"
                )
                if cursor.fetchall():
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the listener never waited for the lock")
        with pytest.raises(MllpError):
            client.receive()  # closed, no ACK: the RIS keeps the message and resends it
        client.close()

    again = send(listener.port, change)
    services.hl7_recover_unapplied()

    assert again.code == "AA"
    study = Study.objects.get(accession_number="ACC-T")
    assert study.priority == "STAT"
    assert study.events.filter(reason="order updated").count() == 1
    statuses = InboundMessage.objects.filter(message_type="ORM^O01").order_by("id")
    assert list(statuses.values_list("status", flat=True)) == ["APPLIED", "DUPLICATE", "APPLIED"]
