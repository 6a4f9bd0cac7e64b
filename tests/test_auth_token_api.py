"""POST /api/v1/auth/token: a person exchanges username and password for a personal token."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from tests import factories
from worklists.models import PersonalToken
from worklists.models.tokens import hash_secret

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/token"


def login(client: APIClient, **data: str):
    return client.post(URL, data=data, format="json")


def test_the_right_password_gives_a_token_stored_only_as_its_hash(api_client, owner):
    response = login(api_client, username="owner", password=factories.PASSWORD, name="plug-in")

    assert response.status_code == 200, response.data
    key = response.data["token"]
    assert key.startswith("pt_")
    stored = PersonalToken.objects.get(user=owner.user)
    assert stored.key_hash == hash_secret(key)
    assert key not in {stored.key_hash, stored.key_prefix, stored.name}
    assert stored.name == "plug-in"
    assert response.data["id"] == stored.id
    assert stored.expires_at > stored.created_at


def test_asking_again_gives_a_new_token_and_both_work(api_client, owner):
    first = login(api_client, username="owner", password=factories.PASSWORD).data["token"]
    second = login(api_client, username="owner", password=factories.PASSWORD).data["token"]

    assert first != second
    assert PersonalToken.objects.filter(user=owner.user).count() == 2
    for key in (first, second):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get("/api/v1/worklists").status_code == 200


def test_the_token_authenticates_api_calls_with_the_users_scope(api_client, owner, site_a, site_b):
    mine = factories.StudyFactory(site=site_a, patient__birth_date=dt.date(1971, 1, 2))
    factories.StudyFactory(site=site_b, patient__birth_date=dt.date(1972, 3, 4))
    key = login(api_client, username="owner", password=factories.PASSWORD).data["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.get("/api/v1/studies")

    assert response.status_code == 200
    assert [row["id"] for row in response.data["results"]] == [mine.id]


@pytest.mark.parametrize(
    "key", ["pt_0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01"]
)
def test_a_made_up_personal_token_is_refused(owner, key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get("/api/v1/studies").status_code == 401


def test_a_wrong_password_gives_400_and_no_token(api_client, owner):
    response = login(api_client, username="owner", password="wrong")

    assert response.status_code == 400
    assert response.data["errors"]["non_field_errors"] == ["wrong username or password"]
    assert "token" not in response.data
    assert not PersonalToken.objects.exists()


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
    assert not PersonalToken.objects.exists()


def test_missing_fields_are_400_with_field_errors(api_client):
    response = api_client.post(URL, data={}, format="json")

    assert response.status_code == 400
    assert set(response.data["errors"]) == {"username", "password"}
    assert not PersonalToken.objects.exists()


def test_a_blank_password_is_a_field_error(api_client, owner):
    response = login(api_client, username="owner", password="")

    assert response.status_code == 400
    assert "password" in response.data["errors"]


def test_the_token_endpoint_does_not_take_a_site_token(site_a_client, owner):
    response = login(site_a_client, username="owner", password="wrong")

    # Authentication is off on this endpoint: the site token neither helps nor is rejected.
    assert response.status_code == 400
    assert not PersonalToken.objects.exists()
