"""Inbound message status moves: a failure recorded late never undoes an applied message, and
the same message id sent twice at once is applied once."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.db_support import require_postgresql
from tests.hl7_support import hl7_site
from worklists.models import InboundMessage
from worklists.services.inbound import (
    inbound_mark_failed,
    inbound_store,
    inbound_store_and_find_applied,
)

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = (hl7_site,)
PEER = "127.0.0.1:1"


def _stored(site_id: int, status: str) -> int:
    inbound = inbound_store(channel="HL7", raw=b"MSH|^~\\&|", site_id=site_id)
    InboundMessage.objects.filter(id=inbound.id).update(status=status)
    return inbound.id


def test_marking_an_applied_message_failed_leaves_it_applied(hl7_site):
    inbound_id = _stored(hl7_site.id, "APPLIED")

    inbound_mark_failed(inbound_id=inbound_id, error="after commit: socket closed")

    row = InboundMessage.objects.get(id=inbound_id)
    assert (row.status, row.error) == ("APPLIED", "")


def test_marking_a_duplicate_message_failed_leaves_it_a_duplicate(hl7_site):
    inbound_id = _stored(hl7_site.id, "DUPLICATE")

    inbound_mark_failed(inbound_id=inbound_id, error="late failure")

    assert InboundMessage.objects.get(id=inbound_id).status == "DUPLICATE"


def test_a_received_or_failed_message_can_be_marked_failed(hl7_site):
    received = _stored(hl7_site.id, "RECEIVED")
    failed = _stored(hl7_site.id, "FAILED")

    inbound_mark_failed(inbound_id=received, error="bad content")
    inbound_mark_failed(inbound_id=failed, error="still bad")

    rows = dict(InboundMessage.objects.values_list("id", "error"))
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {"FAILED"}
    assert (rows[received], rows[failed]) == ("bad content", "still bad")


def _waiting_on_locks() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        # Inside a transaction the activity view is a snapshot taken once: take a fresh one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def test_a_message_resent_while_its_first_copy_is_being_applied_is_applied_once(
    hl7_site, general_worklist
):
    """The RIS times out and sends the same message again while the first copy is still in
    its applying transaction: both pass the check made before the transaction, so the decision
    must hold inside it (one applied, the other a duplicate)."""
    import os
    import threading
    import time

    from django.db import connection, connections, transaction

    from demo_ris.orders import orm_o01
    from hl7_interface import services
    from tests.hl7_support import ack_of, spec
    from worklists.models import Study

    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("concurrency is tested on PostgreSQL (set DATABASE_URL)")

    order = spec("ACC-RESENT", priority="R")
    (created,) = services.hl7_receive_batch([(orm_o01(order, facility="ALFA"), PEER)])
    assert created.ack_code == "AA"
    study = Study.objects.get(accession_number="ACC-RESENT")
    change = orm_o01(
        spec("ACC-RESENT", fnr=order.fnr, control="XO", priority="S"),
        facility="ALFA",
        control_id="RESENT-1",
    )
    results: list[services.Received] = []
    errors: list[BaseException] = []

    def resend() -> None:
        try:
            results.extend(services.hl7_receive_batch([(change, PEER)]))
        except BaseException as exc:  # asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=resend) for _ in range(2)]
    with transaction.atomic():
        # Something else holds the study: both copies are stored, checked for repeats (none
        # applied yet) and then wait for it inside their applying transactions.
        list(Study.objects.select_for_update().filter(id=study.id))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_on_locks() >= 2, (errors, results)
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(r.ack_code for r in results) == ["AA", "AA"]
    statuses = sorted(
        InboundMessage.objects.filter(message_id="RESENT-1").values_list("status", flat=True)
    )
    assert statuses == ["APPLIED", "DUPLICATE"]
    duplicate = InboundMessage.objects.get(message_id="RESENT-1", status="DUPLICATE")
    applied = InboundMessage.objects.get(message_id="RESENT-1", status="APPLIED")
    assert duplicate.error == f"duplicate of message {applied.id}"
    answered = {r.inbound_id: ack_of(r.ack).text for r in results}
    assert f"duplicate of message {applied.id}" in answered[duplicate.id]
    study.refresh_from_db()
    assert study.priority == "STAT"


def test_marking_applied_unless_repeat_leaves_out_a_copy_of_an_applied_message(hl7_site):
    from worklists.services.inbound import inbound_mark_applied_many

    def stored(message_id: str) -> int:
        return inbound_store(
            channel="HL7", raw=b"MSH|^~\\&|", site_id=hl7_site.id, message_id=message_id
        ).id

    first, copy, other, blank_a, blank_b = (stored(m) for m in ("M1", "M1", "M2", "", ""))
    InboundMessage.objects.filter(id__in=[first, blank_a]).update(status="APPLIED")

    missed = inbound_mark_applied_many(
        [(copy, None), (other, None), (blank_b, None)], unless_repeat=True
    )

    assert missed == {copy}
    assert InboundMessage.objects.get(id=copy).status == "RECEIVED"
    assert InboundMessage.objects.get(id=other).status == "APPLIED"
    assert InboundMessage.objects.get(id=blank_b).status == "APPLIED"


def test_a_store_that_skips_its_wal_flush_leaves_later_commits_synchronous(hl7_site):
    # The store's commit need not wait for its WAL flush (the applying commit after it does);
    # that must not carry over to the connection, or the AA would not mean durable.
    require_postgresql("synchronous_commit is PostgreSQL's")
    applied = _stored(hl7_site.id, "APPLIED")
    InboundMessage.objects.filter(id=applied).update(message_id="M1")

    ids, originals = inbound_store_and_find_applied(
        [{"channel": "HL7", "raw": b"MSH|1", "site_id": hl7_site.id, "message_id": "M1"}] * 2,
        applied_keys=[(hl7_site.id, "M1")],
        flushed_by_next_commit=True,
    )

    assert originals == {(hl7_site.id, "M1"): applied}
    assert InboundMessage.objects.filter(id__in=ids, status="RECEIVED").count() == 2
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
