"""The client address (teleradiology/client_address.py): X-Forwarded-For only from trusted
proxies. The lock-out and the audit trail both use it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from teleradiology.client_address import client_address
from tests import factories
from worklists.models import AuditEvent

PROXY = "10.1.2.3"


def address(remote_addr: str, forwarded: str | None = None) -> str | None:
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/")
    request.META.update(extra)
    return client_address(request)


@pytest.fixture
def proxies(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8:1::/48"]


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []

    assert address("203.0.113.9", "192.0.2.1") == "203.0.113.9"


def test_from_an_untrusted_peer_the_header_is_ignored(proxies):
    assert address("203.0.113.9", "192.0.2.1") == "203.0.113.9"


def test_from_a_trusted_proxy_the_client_is_the_last_untrusted_hop(proxies):
    # The client wrote "192.0.2.1" itself; the proxy appended the address it saw.
    assert address(PROXY, "192.0.2.1, 198.51.100.7") == "198.51.100.7"
    assert address(PROXY, "198.51.100.7, 10.9.9.9") == "198.51.100.7"


def test_a_chain_of_trusted_proxies_with_nothing_else_gives_the_first_of_them(proxies):
    assert address(PROXY, "10.4.4.4") == "10.4.4.4"


def test_garbage_in_the_header_stops_the_walk(proxies):
    assert address(PROXY, "not-an-ip, 10.4.4.4") == "10.4.4.4"
    assert address(PROXY, "") == PROXY


def test_ports_and_ipv6_forms_are_understood(proxies):
    assert address(PROXY, "[2001:db8:2::5]:443") == "2001:db8:2::5"
    assert address(PROXY, "192.0.2.4:5123") == "192.0.2.4"
    assert address("2001:db8:1::9", "192.0.2.4") == "192.0.2.4"
    assert address("::ffff:203.0.113.9", "192.0.2.4") == "203.0.113.9"


def test_a_peer_that_is_not_an_address_gives_none(proxies):
    assert address("", "192.0.2.4") is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("trusted", "expected"), [([], "203.0.113.9"), (["203.0.113.0/24"], "192.0.2.55")]
)
def test_the_audit_trail_records_the_same_client_address(
    settings, owner, site_a, trusted, expected
):
    settings.TRUSTED_PROXIES = trusted
    study = factories.StudyFactory(site=site_a, patient__birth_date=dt.date(1971, 1, 2))
    client = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.55")
    client.force_authenticate(user=owner.user)

    response = client.get(f"/api/v1/studies/{study.id}")

    assert response.status_code == 200
    assert AuditEvent.objects.get(object_id=str(study.id)).remote_addr == expected
