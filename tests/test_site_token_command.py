"""manage.py site_token: a site's integration token, stored hashed, rotated with an overlap."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from worklists.models import SiteApiToken
from worklists.models.tokens import hash_secret


def _run(*args: str) -> str:
    out = StringIO()
    call_command("site_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def _status(api_client, key: str) -> int:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client.post("/api/v1/orders", {}, format="json").status_code


def test_it_creates_a_token_stored_only_as_its_hash(site_a):
    key = _run("alfa")

    assert key.startswith("site_")
    stored = SiteApiToken.objects.get(site=site_a)
    assert stored.key_hash == hash_secret(key)
    assert key not in (stored.key_hash, stored.key_prefix)
    assert key.startswith(stored.key_prefix)


def test_asking_again_without_rotate_is_a_clear_error_and_changes_nothing(site_a):
    _run("alfa")

    with pytest.raises(CommandError, match="stored hashed and cannot be shown again"):
        _run("alfa")
    assert SiteApiToken.objects.filter(site=site_a).count() == 1


def test_rotate_keeps_the_old_token_working_for_the_overlap_then_not(site_a, api_client, settings):
    settings.SITE_TOKEN_ROTATION_OVERLAP_HOURS = 6
    old = _run("alfa")
    new = _run("alfa", "--rotate")
    assert new != old

    # Both work during the overlap (400: an empty order, past authentication).
    assert _status(api_client, old) == 400
    assert _status(api_client, new) == 400
    previous = SiteApiToken.objects.get(key_hash=hash_secret(old))
    assert previous.expires_at is not None
    overlap = previous.expires_at - timezone.now()
    assert dt.timedelta(hours=5, minutes=59) < overlap <= dt.timedelta(hours=6)

    # The overlap ends: only the new one works.
    SiteApiToken.objects.filter(id=previous.id).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert _status(api_client, old) == 401
    assert _status(api_client, new) == 400


def test_a_second_rotation_does_not_lengthen_the_first_tokens_overlap(site_a, settings):
    settings.SITE_TOKEN_ROTATION_OVERLAP_HOURS = 6
    first = _run("alfa")
    _run("alfa", "--rotate")
    first_expiry = SiteApiToken.objects.get(key_hash=hash_secret(first)).expires_at
    settings.SITE_TOKEN_ROTATION_OVERLAP_HOURS = 48

    _run("alfa", "--rotate")

    assert SiteApiToken.objects.get(key_hash=hash_secret(first)).expires_at == first_expiry


def test_revoke_stops_every_token_of_the_site_and_not_another_sites(site_a, site_b, api_client):
    alfa_old = _run("alfa")
    alfa_new = _run("alfa", "--rotate")
    bravo = _run("bravo")

    _run("alfa", "--revoke")

    assert _status(api_client, alfa_old) == 401
    assert _status(api_client, alfa_new) == 401
    assert _status(api_client, bravo) == 400


def test_a_token_records_its_last_use(site_a, api_client):
    key = _run("alfa")
    assert SiteApiToken.objects.get(site=site_a).last_used_at is None

    _status(api_client, key)

    assert SiteApiToken.objects.get(site=site_a).last_used_at is not None


def test_an_unknown_site_code_is_a_clear_error(site_a):
    with pytest.raises(CommandError, match="no site with code 'nope' \\(known: alfa\\)"):
        _run("nope")
