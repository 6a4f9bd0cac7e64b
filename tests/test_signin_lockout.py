"""Lock-out after repeated failed sign-ins (django-axes): the login page, the admin and
POST /api/v1/auth/token, keyed on the account and on the real client address."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client
from rest_framework.test import APIClient

from tests import factories
from worklists.models import PersonalToken

pytestmark = pytest.mark.django_db

LIMIT = 5
ATTACKER = "203.0.113.66"


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.TRUSTED_PROXIES = []


@pytest.fixture
def staff(db):
    return factories.UserFactory(username="admin-user", is_staff=True, is_superuser=True)


def form_login(client: Client, username: str, password: str, path: str = "/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def token_login(username: str, password: str, **extra):
    return APIClient().post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json", **extra
    )


def test_the_login_page_locks_an_account_after_repeated_failures_even_for_the_right_password(
    owner,
):
    client = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(LIMIT - 1):
        assert form_login(client, "owner", "wrong").status_code == 200  # the form again

    locked = form_login(client, "owner", "wrong")
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content

    right = form_login(client, "owner", factories.PASSWORD)
    assert right.status_code == 429
    assert SESSION_KEY not in client.session


def test_below_the_limit_the_right_password_still_signs_in(owner):
    client = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(LIMIT - 2):
        form_login(client, "owner", "wrong")

    response = form_login(client, "owner", factories.PASSWORD)

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(owner.user.pk)


def test_the_admin_login_locks_out_too(staff):
    client = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(LIMIT):
        form_login(client, "admin-user", "wrong", path="/admin/login/")

    response = form_login(client, "admin-user", factories.PASSWORD, path="/admin/login/")

    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_the_token_api_locks_out_and_gives_no_token(owner):
    statuses = [
        token_login("owner", "wrong", REMOTE_ADDR=ATTACKER).status_code for _ in range(LIMIT)
    ]
    right = token_login("owner", factories.PASSWORD, REMOTE_ADDR=ATTACKER)

    assert statuses[: LIMIT - 1] == [400] * (LIMIT - 1)
    assert statuses[-1] == 429
    assert right.status_code == 429
    assert "Too many failed sign-ins" in right.json()["errors"]["non_field_errors"][0]
    assert not PersonalToken.objects.exists()


def test_the_account_is_locked_whatever_address_the_failures_come_from(owner):
    for n in range(LIMIT):
        token_login("owner", "wrong", REMOTE_ADDR=f"198.51.100.{n + 1}")

    response = token_login("owner", factories.PASSWORD, REMOTE_ADDR="192.0.2.200")

    assert response.status_code == 429


def test_an_address_guessing_many_accounts_is_locked_and_others_are_not(owner, other_radiologist):
    for n in range(LIMIT):
        token_login(f"guess{n}", "wrong", REMOTE_ADDR=ATTACKER)

    from_attacker = token_login("other", factories.PASSWORD, REMOTE_ADDR=ATTACKER)
    from_elsewhere = token_login("other", factories.PASSWORD, REMOTE_ADDR="192.0.2.10")

    assert from_attacker.status_code == 429
    assert from_elsewhere.status_code == 200


def test_a_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_lock_out(
    owner, other_radiologist
):
    for n in range(LIMIT):
        token_login(
            f"guess{n}", "wrong", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}"
        )

    response = token_login(
        "other", factories.PASSWORD, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.99"
    )

    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_behind_a_trusted_proxy_each_client_address_counts_on_its_own(
    settings, owner, other_radiologist
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for n in range(LIMIT):
        token_login(f"guess{n}", "wrong", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=ATTACKER)

    attacker = token_login(
        "other", factories.PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=ATTACKER
    )
    colleague = token_login(
        "other", factories.PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.7"
    )

    assert attacker.status_code == 429
    assert colleague.status_code == 200
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
