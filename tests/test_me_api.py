"""GET /api/v1/me: who the caller is, for a person's token or session; nothing about studies."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from worklists.models import AuditEvent
from worklists.services.tokens import personal_token_issue

pytestmark = pytest.mark.django_db

URL = "/api/v1/me"


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {personal_token_issue(user_id=user.pk).key}")
    return client


def test_a_personal_token_gets_its_own_user(owner, other_radiologist):
    response = token_client(owner.user).get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": owner.user.pk,
        "username": "owner",
        "name": owner.user.get_full_name(),
    }


def test_another_radiologists_token_gets_that_radiologist(owner, other_radiologist):
    response = token_client(other_radiologist.user).get(URL)

    assert response.status_code == 200
    assert response.json()["id"] == other_radiologist.user.pk
    assert response.json()["username"] == "other"


def test_a_session_gets_its_own_user(outsider):
    client = APIClient()
    client.force_login(outsider.user)

    response = client.get(URL)

    assert response.status_code == 200
    assert response.json()["id"] == outsider.user.pk


def test_no_credentials_is_401_and_a_made_up_token_is_401():
    anonymous = APIClient().get(URL)
    made_up = APIClient()
    made_up.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    assert anonymous.status_code == 401
    assert made_up.get(URL).status_code == 401


def test_a_site_integration_token_is_not_a_person(site_a_client):
    response = site_a_client.get(URL)

    assert response.status_code == 403


def test_it_costs_the_token_lookup_only_and_writes_no_audit_row(owner):
    client = token_client(owner.user)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)

    assert response.status_code == 200
    # The benchmark's floor for an authenticated call: the authentication's own statements (the
    # token with its user, its last use), nothing of the endpoint's.
    statements = [q["sql"] for q in queries]
    assert statements, statements
    assert all('"worklists_personaltoken"' in sql for sql in statements), statements
    assert not AuditEvent.objects.exists()


def test_it_only_reads(owner):
    response = token_client(owner.user).post(URL)

    assert response.status_code == 405
