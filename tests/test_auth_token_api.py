"""POST /api/v1/auth/token: a person exchanges username and password for a personal token."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/token"


@pytest.fixture(autouse=True)
def _fresh_login_throttle():
    """The login throttle counts in the cache; start every test with a clean count."""
    cache.clear()
    yield
    cache.clear()


def login(client: APIClient, **data: str):
    return client.post(URL, data=data, format="json")


def test_the_right_password_gives_a_token(api_client, owner):
    response = login(api_client, username="owner", password=factories.PASSWORD)

    assert response.status_code == 200, response.data
    assert response.data["token"] == Token.objects.get(user=owner.user).key


def test_asking_again_gives_the_same_token(api_client, owner):
    first = login(api_client, username="owner", password=factories.PASSWORD)
    second = login(api_client, username="owner", password=factories.PASSWORD)

    assert first.data["token"] == second.data["token"]
    assert Token.objects.count() == 1


def test_the_token_authenticates_api_calls_with_the_users_scope(api_client, owner, site_a, site_b):
    mine = factories.StudyFactory(site=site_a, patient__birth_date=dt.date(1971, 1, 2))
    factories.StudyFactory(site=site_b, patient__birth_date=dt.date(1972, 3, 4))
    key = login(api_client, username="owner", password=factories.PASSWORD).data["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.get("/api/v1/studies")

    assert response.status_code == 200
    assert [row["id"] for row in response.data["results"]] == [mine.id]


def test_a_made_up_personal_token_is_refused(owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    assert client.get("/api/v1/studies").status_code == 401


def test_a_wrong_password_gives_400_and_no_token(api_client, owner):
    response = login(api_client, username="owner", password="wrong")

    assert response.status_code == 400
    assert response.data["errors"]["non_field_errors"] == ["wrong username or password"]
    assert "token" not in response.data
    assert not Token.objects.exists()


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(api_client, owner):
    wrong_password = login(api_client, username="owner", password="wrong")
    unknown_user = login(api_client, username="nobody", password=factories.PASSWORD)

    assert unknown_user.status_code == 400
    assert unknown_user.data == wrong_password.data


def test_an_inactive_user_gets_no_token(api_client, owner):
    owner.user.is_active = False
    owner.user.save()

    response = login(api_client, username="owner", password=factories.PASSWORD)

    assert response.status_code == 400
    assert not Token.objects.exists()


def test_missing_fields_are_400_with_field_errors(api_client):
    response = api_client.post(URL, data={}, format="json")

    assert response.status_code == 400
    assert set(response.data["errors"]) == {"username", "password"}
    assert not Token.objects.exists()


def test_a_blank_password_is_a_field_error(api_client, owner):
    response = login(api_client, username="owner", password="")

    assert response.status_code == 400
    assert "password" in response.data["errors"]


def test_the_token_endpoint_does_not_take_a_site_token(site_a_client, owner):
    response = login(site_a_client, username="owner", password="wrong")

    # Authentication is off on this endpoint: the site token neither helps nor is rejected.
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_repeated_login_attempts_are_throttled(api_client, owner):
    statuses = [
        login(api_client, username="owner", password="wrong").status_code for _ in range(21)
    ]

    assert statuses[:20] == [400] * 20
    assert statuses[20] == 429
