"""Shared pieces of the HL7 tests: a listener on a real socket, a client, synthetic orders."""

from __future__ import annotations

import pytest

from demo_ris.orders import OrderSpec
from hl7_interface import services
from hl7_interface.client import Ack, MllpClient, parse_ack
from hl7_interface.listener import running_listener
from hl7_interface.models import SiteHl7Config
from tests import factories


@pytest.fixture
def hl7_site(site_a):
    SiteHl7Config.objects.create(
        site=site_a, receiving_application="RIS", receiving_facility="ALFA-RIS"
    )
    services.sites.clear()
    yield site_a
    services.sites.clear()


@pytest.fixture
def listener(hl7_site, general_worklist):
    with running_listener(workers=4) as running:
        yield running


def send(port: int, payload: bytes, *, timeout: float = 20.0) -> Ack:
    with MllpClient("127.0.0.1", port, timeout=timeout) as client:
        return client.send_message(payload)


def ack_of(raw: bytes) -> Ack:
    return parse_ack(raw)


def spec(accession: str = "ACC1", **kw) -> OrderSpec:
    kw.setdefault("fnr", factories.synthetic_fnr())
    return OrderSpec(accession=accession, **kw)
