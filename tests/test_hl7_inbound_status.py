"""Inbound message status moves: a failure recorded late never undoes an applied message, and
the same message id sent twice at once is applied once."""

from __future__ import annotations

import pytest

from tests.hl7_support import hl7_site
from worklists.models import InboundMessage
from worklists.services.inbound import inbound_mark_failed, inbound_store

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
