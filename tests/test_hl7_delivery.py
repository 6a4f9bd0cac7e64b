"""Results out to the site's RIS over real sockets: content, retries, dead letters, order."""

from __future__ import annotations

import datetime as dt
import os
import threading

import hl7
import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from demo_ris.orders import orm_o01
from demo_ris.receiver import ResultReceiver
from hl7_interface.claims import retry_delay
from hl7_interface.codec import parse
from hl7_interface.delivery import DEAD_LETTER_ALERT, outbox_drain
from hl7_interface.models import OutboundMessage, SiteHl7Config
from hl7_interface.outbox import (
    CriticalCommunication,
    NotResendable,
    RejectionDelivery,
    ReportDelivery,
    ReportSection,
    outbox_enqueue_rejection,
    outbox_enqueue_report,
    outbox_resend,
)
from tests import factories
from tests.hl7_support import hl7_site, listener, send, spec
from worklists.actors import Actor
from worklists.models import CoordinatorAlert, Study

pytestmark = pytest.mark.django_db(transaction=True)
# Fixtures shared by the HL7 modules (pytest finds them by name in this module).
FIXTURES = (hl7_site, listener)

SIGNED_AT = dt.datetime(2026, 7, 15, 21, 5, 0, tzinfo=dt.UTC)


def _report(status: str = "F", **overrides) -> ReportDelivery:
    values: dict = {
        "report_version_id": 1,
        "version_number": 1,
        "result_status": status,
        "sections": (
            ReportSection("Funn", "Ingen blødning.\nVentrikler | normale ^ og & symmetriske."),
            ReportSection("Konklusjon", "Normal CT caput. ÆØÅ æøå."),
        ),
        "signed_by_name": "Kari Nordmann",
        "signed_by_hpr": "9123456",
        "signed_at": SIGNED_AT,
    }
    values.update(overrides)
    return ReportDelivery(**values)


def _enqueue(study: Study, delivery: ReportDelivery) -> OutboundMessage:
    with transaction.atomic():
        return outbox_enqueue_report(study_id=study.id, delivery=delivery)


@pytest.fixture
def ris(hl7_site):
    with ResultReceiver() as receiver:
        SiteHl7Config.objects.filter(site=hl7_site).update(
            ris_host=receiver.host, ris_port=receiver.port
        )
        yield receiver


@pytest.fixture
def ordered_study(listener):
    """A study ordered over HL7, so its placer and filler numbers are the RIS's own."""
    order = spec("ACC-ORU", placer="PL-123", filler="FI-456", local_id="MRN-9")
    assert send(listener.port, orm_o01(order, facility="ALFA")).code == "AA"
    study = Study.objects.get(accession_number="ACC-ORU")
    Study.objects.filter(id=study.id).update(
        ready_at=dt.datetime(2026, 7, 15, 20, 0, tzinfo=dt.UTC)
    )
    return study, order


def test_each_order_of_a_multi_order_message_gets_its_own_numbers_back(ris, listener):
    first = spec("ACC-M1", placer="PL-1", filler="FI-1")
    second = spec("ACC-M2", fnr=first.fnr, placer="PL-2", filler="FI-2")
    assert send(listener.port, orm_o01(first, facility="ALFA", more=[second])).code == "AA"
    for study in Study.objects.all():
        _enqueue(study, _report("F"))

    outbox_drain()

    sent = {}
    for result in ris.received:
        message = parse(result.raw)
        orc, obr = message.first("ORC"), message.first("OBR")
        sent[obr.text(18)] = (orc.text(2), orc.text(3), obr.text(2), obr.text(3))
    assert sent == {
        "ACC-M1": ("PL-1", "FI-1", "PL-1", "FI-1"),
        "ACC-M2": ("PL-2", "FI-2", "PL-2", "FI-2"),
    }


def test_a_study_ordered_without_order_numbers_is_filed_by_its_accession_number(ris, hl7_site):
    study = factories.StudyFactory(site=hl7_site, accession_number="ACC-REST")
    _enqueue(study, _report("F"))

    outbox_drain()

    [result] = ris.received
    orc = parse(result.raw).first("ORC")
    assert (orc.text(2), orc.text(3)) == ("ACC-REST", "ACC-REST")


def test_the_oru_carries_every_field_the_ris_files_the_report_by(ris, ordered_study):
    study, order = ordered_study
    row = _enqueue(study, _report("F"))

    assert outbox_drain() == {row.id: "DELIVERED"}

    [result] = ris.received
    message = parse(result.raw)
    msh, pid = message.msh, message.first("PID")
    orc, obr = message.first("ORC"), message.first("OBR")
    assert (msh.text(3), msh.text(4), msh.text(5), msh.text(6)) == (
        "TELERAD",
        "TELERAD",
        "RIS",
        "ALFA-RIS",
    )
    assert msh.raw(9) == "ORU^R01^ORU_R01"
    assert (msh.text(10), msh.text(12), msh.text(18)) == (f"TR{row.id}", "2.5", "UNICODE UTF-8")
    ids = {pid.component(3, 5, repetition=i): pid.repetitions(3)[i] for i in range(2)}
    assert ids["NNNOR"] == f"{order.fnr}^^^NO-FREG&2.16.578.1.12.4.1.4.1&ISO^NNNOR"
    assert ids["MR"] == "MRN-9^^^ALFA^MR"
    assert (pid.component(5, 1), pid.component(5, 2)) == ("Ødegård", "Åse")
    assert (pid.text(7), pid.text(8)) == ("19700517", "F")
    assert (orc.text(1), orc.text(2), orc.text(3), orc.text(5)) == ("RE", "PL-123", "FI-456", "CM")
    assert (obr.text(2), obr.text(3)) == ("PL-123", "FI-456")
    assert obr.raw(4) == "SA0AA^CT caput uten kontrast^NCRP"
    assert obr.text(7) == "20260715220000+0200"  # ready for reading, in the site's zone
    assert obr.text(18) == "ACC-ORU"
    assert obr.text(22) == "20260715230500+0200"  # signed
    assert obr.text(24) == "CT"
    assert obr.text(25) == "F"
    assert obr.raw(32) == "9123456&Nordmann&Kari&&&&&&HPR&2.16.578.1.12.4.1.4.4&ISO"
    obx = message.all("OBX")
    assert [(o.text(1), o.text(2), o.raw(3), o.text(4), o.text(11)) for o in obx] == [
        ("1", "TX", "FUNN^Funn^L", "1", "F"),
        ("2", "TX", "FUNN^Funn^L", "1", "F"),
        ("3", "TX", "KONKLUSJON^Konklusjon^L", "2", "F"),
    ]
    assert [o.text(5) for o in obx] == [
        "Ingen blødning.",
        "Ventrikler | normale ^ og & symmetriske.",
        "Normal CT caput. ÆØÅ æøå.",
    ]
    assert obx[0].raw(16) == "9123456^Nordmann^Kari^^^^^^HPR"
    # A parser we did not write reads the same report text, separators and all.
    theirs = hl7.parse(result.raw.decode("utf-8"))
    assert str(theirs.segment("PID")[5][0][0]) == "Ødegård"
    assert theirs.unescape(str(theirs.segments("OBX")[1][5])) == (
        "Ventrikler | normale ^ og & symmetriske."
    )
    row.refresh_from_db()
    assert (row.status, row.attempts, row.ack_code) == ("DELIVERED", 1, "AA")
    assert "MSA|AA|" in row.ack_message


def test_a_latin1_ris_gets_latin1_bytes_with_the_norwegian_letters_intact(ris, hl7_site):
    SiteHl7Config.objects.filter(site=hl7_site).update(default_charset="8859/1")
    study = factories.StudyFactory(site=hl7_site)
    _enqueue(study, _report())

    outbox_drain()

    raw = ris.received[0].raw
    assert b"|8859/1" in raw
    assert "ÆØÅ æøå".encode("latin-1") in raw
    assert parse(raw).all("OBX")[-1].text(5) == "Normal CT caput. ÆØÅ æøå."


def test_a_correction_and_critical_communication_are_in_the_oru(ris, hl7_site):
    study = factories.StudyFactory(site=hl7_site)
    _enqueue(study, _report("F"))
    corrected = _report(
        "C",
        version_number=2,
        correction_reason="Feil side angitt",
        critical_finding_category="Akutt blødning",
        critical_communications=(
            CriticalCommunication(
                category="Akutt blødning",
                communicated_to="Dr. Vakt",
                method="telefon",
                communicated_at=SIGNED_AT,
                read_back_confirmed=True,
            ),
        ),
    )
    _enqueue(study, corrected)

    outbox_drain()

    final, correction = (parse(r.raw) for r in ris.wait_for(2))
    assert final.first("OBR").text(25) == "F"
    assert correction.first("OBR").text(25) == "C"
    texts = {o.component(3, 1): o.text(5) for o in correction.all("OBX")}
    assert texts["CORRECTION"] == "Feil side angitt"
    assert {o.text(11) for o in correction.all("OBX")} == {"C"}
    critical = [o.text(5) for o in correction.all("OBX") if o.component(3, 1) == "CRITICAL"]
    assert critical == [
        "Critical finding: Akutt blødning",
        "Dr. Vakt by telefon at 20260715230500+0200 (read back)",
    ]


def test_a_returned_referral_goes_out_as_orc_oc_with_the_coded_reason(ris, hl7_site):
    study = factories.StudyFactory(site=hl7_site)
    with transaction.atomic():
        row = outbox_enqueue_rejection(
            study_id=study.id,
            rejection=RejectionDelivery(
                reason_code="INSUFFICIENT",
                reason_text="Mangelfull henvisning",
                comment="Mangler klinisk problemstilling.\nRing vakthavende.",
                rejected_by_name="Kari Nordmann",
                rejected_by_hpr="9123456",
                rejected_at=SIGNED_AT,
            ),
        )

    assert outbox_drain() == {row.id: "DELIVERED"}
    message = parse(ris.received[0].raw)
    orc = message.first("ORC")
    assert message.msh.raw(9) == "ORM^O01^ORM_O01"
    assert (orc.text(1), orc.text(5), orc.raw(16)) == (
        "OC",
        "CA",
        "INSUFFICIENT^Mangelfull henvisning^L",
    )
    assert [n.text(3) for n in message.all("NTE")] == [
        "Mangler klinisk problemstilling.",
        "Ring vakthavende.",
    ]
    assert message.first("OBR").text(18) == study.accession_number


def test_an_ae_from_the_ris_is_retried_later_with_backoff_and_recorded(hl7_site, settings):
    settings.HL7_RETRY_BASE_SECONDS = 60
    study = factories.StudyFactory(site=hl7_site)
    with ResultReceiver(policy=lambda _m: "AE") as refusing:
        SiteHl7Config.objects.filter(site=hl7_site).update(
            ris_host=refusing.host, ris_port=refusing.port
        )
        row = _enqueue(study, _report())
        before = timezone.now()

        assert outbox_drain() == {row.id: "PENDING"}
        # Not due again yet: a second drain sends nothing.
        assert outbox_drain() == {}

    row.refresh_from_db()
    assert (row.status, row.attempts, row.ack_code) == ("PENDING", 1, "AE")
    assert "the RIS answered AE" in row.last_error
    assert before + dt.timedelta(seconds=30) <= row.next_attempt_at
    assert row.next_attempt_at <= timezone.now() + dt.timedelta(seconds=60)


def test_backoff_doubles_with_jitter_up_to_the_cap(settings):
    settings.HL7_RETRY_BASE_SECONDS = 10
    settings.HL7_RETRY_MAX_SECONDS = 300
    for attempt, ceiling in [(1, 10), (2, 20), (4, 80), (6, 300), (12, 300)]:
        delays = {retry_delay(attempt).total_seconds() for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def _due_now(row: OutboundMessage) -> None:
    OutboundMessage.objects.filter(id=row.id).update(next_attempt_at=timezone.now())


def test_refused_connections_and_silent_riss_end_in_a_dead_letter_with_an_alert(hl7_site, settings):
    settings.HL7_MAX_ATTEMPTS = 3
    settings.HL7_ACK_TIMEOUT_SECONDS = 0.3
    study = factories.StudyFactory(site=hl7_site)
    with ResultReceiver(policy=lambda _m: None) as silent:
        closed_port = ResultReceiver()
        closed_port.close()
        SiteHl7Config.objects.filter(site=hl7_site).update(
            ris_host="127.0.0.1", ris_port=closed_port.port
        )
        row = _enqueue(study, _report())
        assert outbox_drain() == {row.id: "PENDING"}
        assert "cannot connect" in OutboundMessage.objects.get(id=row.id).last_error

        SiteHl7Config.objects.filter(site=hl7_site).update(ris_port=silent.port)
        _due_now(row)
        assert outbox_drain() == {row.id: "PENDING"}
        assert "no answer within" in OutboundMessage.objects.get(id=row.id).last_error
        _due_now(row)
        assert outbox_drain() == {row.id: "DEAD"}

    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == ("DEAD", 3, None)
    alert = CoordinatorAlert.objects.get(kind=DEAD_LETTER_ALERT)
    assert alert.study_id == study.id
    assert "failed 3 times" in alert.message
    assert alert.data == {"outbound_message_id": row.id}


def test_a_dead_letter_is_resent_and_delivered(ris, hl7_site, coordinator):
    study = factories.StudyFactory(site=hl7_site)
    row = _enqueue(study, _report())
    OutboundMessage.objects.filter(id=row.id).update(
        status="DEAD", attempts=12, next_attempt_at=None
    )

    outbox_resend(message_id=row.id, actor=Actor.for_user(coordinator))
    with pytest.raises(NotResendable):
        outbox_resend(message_id=row.id, actor=Actor.for_user(coordinator))
    outbox_drain()

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("DELIVERED", 1)
    assert len(ris.received) == 1


def test_a_correction_is_never_delivered_before_the_final_it_corrects(hl7_site):
    study = factories.StudyFactory(site=hl7_site)
    answers = iter(["AE", "AA", "AA"])
    with ResultReceiver(policy=lambda _m: next(answers)) as ris:
        SiteHl7Config.objects.filter(site=hl7_site).update(ris_host=ris.host, ris_port=ris.port)
        final = _enqueue(study, _report("F"))
        correction = _enqueue(study, _report("C", version_number=2))

        # The final is refused: the correction waits behind it, unsent.
        assert outbox_drain() == {final.id: "PENDING"}
        assert [parse(r.raw).first("OBR").text(25) for r in ris.received] == ["F"]

        _due_now(final)
        outbox_drain()

    assert [parse(r.raw).first("OBR").text(25) for r in ris.received] == ["F", "F", "C"]
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"DELIVERED"}
    assert correction.id > final.id


def test_a_site_without_a_ris_endpoint_is_retried_not_lost(hl7_site):
    study = factories.StudyFactory(site=hl7_site)
    row = _enqueue(study, _report())

    assert outbox_drain() == {row.id: "PENDING"}
    assert OutboundMessage.objects.get(id=row.id).last_error == (
        "the site has no RIS endpoint configured"
    )


def test_concurrent_drains_deliver_each_row_exactly_once(ris, hl7_site):
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("SKIP LOCKED is exercised on PostgreSQL (set DATABASE_URL)")
    studies = [factories.StudyFactory(site=hl7_site) for _ in range(30)]
    rows = [_enqueue(s, _report()) for s in studies]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            barrier.wait(timeout=10)
            outbox_drain(batch=5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(ris.wait_for(len(rows))) == len(rows)
    assert sorted(r.control_id for r in ris.received) == sorted(f"TR{r.id}" for r in rows)
    assert set(OutboundMessage.objects.values_list("attempts", flat=True)) == {1}


def test_a_claimed_batch_is_leased_long_enough_for_every_row_to_wait_its_ack(hl7_site, settings):
    from hl7_interface.claims import outbox_claim

    settings.HL7_CONNECT_TIMEOUT_SECONDS = 5
    settings.HL7_ACK_TIMEOUT_SECONDS = 10
    rows = [_enqueue(factories.StudyFactory(site=hl7_site), _report()) for _ in range(20)]
    before = timezone.now()

    claims = outbox_claim(limit=20)

    assert {claim.id for claim in claims} == {row.id for row in rows}
    # Sent one after another, the last row may wait 20 ACK timeouts: not due again before that,
    # or a second drainer would send it twice.
    earliest_due = min(
        OutboundMessage.objects.filter(id__in=[r.id for r in rows]).values_list(
            "next_attempt_at", flat=True
        )
    )
    assert earliest_due >= before + dt.timedelta(seconds=20 * 10)
