"""/account/password/: every user changes their own password; it revokes their API tokens."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from rest_framework.test import APIClient

from tests import factories
from worklists.models import PersonalToken
from worklists.services.tokens import personal_token_issue

pytestmark = pytest.mark.django_db

URL = "/account/password/"
NEW = "a new and long passphrase 42"


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def change(client, old: str = factories.PASSWORD, new: str = NEW):
    return client.post(URL, {"old_password": old, "new_password1": new, "new_password2": new})


@pytest.mark.parametrize("persona", ["owner", "site_user", "coordinator"])
def test_every_user_has_the_page_linked_from_every_page(request, client, persona):
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    assert client.get(URL).status_code == 200
    for page in ("/worklist/", "/account/", "/account/tokens/"):
        assert f'href="{URL}"'.encode() in client.get(page).content


def test_changing_the_password_revokes_the_users_tokens_and_keeps_the_session(
    client, owner, other_radiologist
):
    mine = personal_token_issue(user_id=owner.user.pk)
    others = personal_token_issue(user_id=other_radiologist.user.pk)
    client.force_login(owner.user)

    response = change(client)

    assert response.status_code == 302
    owner.user.refresh_from_db()
    assert owner.user.check_password(NEW)
    assert with_token(mine.key).get("/api/v1/worklists").status_code == 401
    assert PersonalToken.objects.get(id=mine.id).revoked_because == "password"
    assert with_token(others.key).get("/api/v1/worklists").status_code == 200
    assert client.session[SESSION_KEY] == str(owner.user.pk)
    assert client.get("/worklist/").status_code == 200


def test_a_wrong_old_password_changes_nothing(client, owner):
    token = personal_token_issue(user_id=owner.user.pk)
    client.force_login(owner.user)

    response = change(client, old="not it")

    assert response.status_code == 200
    assert b"field--error" in response.content
    owner.user.refresh_from_db()
    assert owner.user.check_password(factories.PASSWORD)
    assert with_token(token.key).get("/api/v1/worklists").status_code == 200


def test_a_password_changed_elsewhere_also_stops_the_tokens(owner):
    token = personal_token_issue(user_id=owner.user.pk)
    owner.user.set_password(NEW)  # the admin's form, manage.py changepassword
    owner.user.save()

    assert with_token(token.key).get("/api/v1/worklists").status_code == 401
    assert PersonalToken.objects.get(id=token.id).revoked_because == "password"


def test_the_page_needs_a_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
