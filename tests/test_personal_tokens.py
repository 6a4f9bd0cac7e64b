"""Personal API tokens: stored hashed, expiring, last use recorded, listed and revoked by their
owner (page /account/tokens/ and /api/v1/auth/tokens), revoked by deactivation."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from worklists.models import PersonalToken
from worklists.models.tokens import hash_secret
from worklists.services.tokens import LAST_USE_RESOLUTION, personal_token_issue

pytestmark = pytest.mark.django_db


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_token_is_stored_as_the_sha256_of_its_secret_only(owner):
    token = personal_token_issue(user_id=owner.user.pk, name="dictation")

    stored = PersonalToken.objects.get(id=token.id)
    assert stored.key_hash == hash_secret(token.key)
    values = [str(getattr(stored, f.attname)) for f in PersonalToken._meta.fields]
    assert not any(token.key in value for value in values)


def test_a_token_expires_after_the_configured_days(owner, settings):
    settings.PERSONAL_TOKEN_LIFETIME_DAYS = 7
    token = personal_token_issue(user_id=owner.user.pk)
    assert token.expires_at - token.created_at == dt.timedelta(days=7)
    assert with_token(token.key).get("/api/v1/worklists").status_code == 200

    PersonalToken.objects.filter(id=token.id).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    assert with_token(token.key).get("/api/v1/worklists").status_code == 401


def test_the_last_use_is_recorded_at_most_once_a_minute(owner):
    token = personal_token_issue(user_id=owner.user.pk)
    assert token.last_used_at is None

    with_token(token.key).get("/api/v1/worklists")
    first_use = PersonalToken.objects.get(id=token.id).last_used_at
    with_token(token.key).get("/api/v1/worklists")

    assert first_use is not None
    assert PersonalToken.objects.get(id=token.id).last_used_at == first_use
    earlier = first_use - LAST_USE_RESOLUTION - dt.timedelta(seconds=1)
    PersonalToken.objects.filter(id=token.id).update(last_used_at=earlier)
    with_token(token.key).get("/api/v1/worklists")
    assert PersonalToken.objects.get(id=token.id).last_used_at > first_use


def test_the_owner_lists_their_tokens_without_secrets_and_not_anothers(owner, other_radiologist):
    mine = personal_token_issue(user_id=owner.user.pk, name="mine")
    personal_token_issue(user_id=other_radiologist.user.pk, name="theirs")

    response = with_token(mine.key).get("/api/v1/auth/tokens")

    assert response.status_code == 200
    assert [row["name"] for row in response.data] == ["mine"]
    assert mine.key not in response.content.decode()
    assert response.data[0]["prefix"] == mine.key[:12]


def test_the_owner_revokes_a_token_by_api_and_it_stops_working(owner):
    keep = personal_token_issue(user_id=owner.user.pk)
    drop = personal_token_issue(user_id=owner.user.pk)

    response = with_token(keep.key).delete(f"/api/v1/auth/tokens/{drop.id}")

    assert response.status_code == 204
    assert with_token(drop.key).get("/api/v1/worklists").status_code == 401
    assert with_token(keep.key).get("/api/v1/worklists").status_code == 200
    assert PersonalToken.objects.get(id=drop.id).revoked_because == "owner"


def test_nobody_revokes_another_users_token(owner, other_radiologist):
    mine = personal_token_issue(user_id=owner.user.pk)
    theirs = personal_token_issue(user_id=other_radiologist.user.pk)

    response = with_token(mine.key).delete(f"/api/v1/auth/tokens/{theirs.id}")

    assert response.status_code == 404
    assert PersonalToken.objects.get(id=theirs.id).revoked_at is None
    assert with_token(theirs.key).get("/api/v1/worklists").status_code == 200


def test_the_tokens_page_issues_a_token_shown_once_and_revokes_it(client, owner, other_radiologist):
    personal_token_issue(user_id=other_radiologist.user.pk, name="theirs")
    client.force_login(owner.user)

    issued = client.post("/account/tokens/", {"name": "plug-in"})
    assert issued.status_code == 200
    key = re.search(rb"data-issued-token>(pt_[\w-]+)<", issued.content).group(1).decode()
    token = PersonalToken.objects.get(key_hash=hash_secret(key))
    assert token.user == owner.user
    assert with_token(key).get("/api/v1/worklists").status_code == 200

    listing = client.get("/account/tokens/")
    assert key.encode() not in listing.content
    assert b"plug-in" in listing.content
    assert b"theirs" not in listing.content

    client.post(f"/account/tokens/{token.id}/revoke")
    assert with_token(key).get("/api/v1/worklists").status_code == 401


def test_the_tokens_page_does_not_revoke_another_users_token(client, owner, other_radiologist):
    theirs = personal_token_issue(user_id=other_radiologist.user.pk)
    client.force_login(owner.user)

    client.post(f"/account/tokens/{theirs.id}/revoke")

    assert PersonalToken.objects.get(id=theirs.id).revoked_at is None


def test_deactivating_a_user_revokes_their_tokens(owner, other_radiologist):
    token = personal_token_issue(user_id=owner.user.pk)
    others = personal_token_issue(user_id=other_radiologist.user.pk)
    owner.user.is_active = False
    owner.user.save(update_fields=["is_active"])

    assert with_token(token.key).get("/api/v1/worklists").status_code == 401
    assert PersonalToken.objects.get(id=token.id).revoked_because == "deactivated"
    # Reactivated, the old token stays revoked.
    owner.user.is_active = True
    owner.user.save(update_fields=["is_active"])
    assert with_token(token.key).get("/api/v1/worklists").status_code == 401
    assert with_token(others.key).get("/api/v1/worklists").status_code == 200


def test_the_tokens_page_needs_a_login(client):
    assert client.get("/account/tokens/").status_code == 302
    assert APIClient().get("/api/v1/auth/tokens").status_code == 401
