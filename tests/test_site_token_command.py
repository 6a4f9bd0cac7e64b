from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from worklists.models import SiteApiToken


def _run(*args: str) -> str:
    out = StringIO()
    call_command("site_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_it_creates_a_token_once_and_then_shows_the_same_one(site_a):
    first = _run("alfa")
    assert first.startswith("site_")
    assert _run("alfa") == first
    assert SiteApiToken.objects.get(site=site_a).key == first


def test_rotate_replaces_the_token_and_the_old_one_stops_working(site_a, api_client):
    old = _run("alfa")
    new = _run("alfa", "--rotate")
    assert new != old
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert api_client.post("/api/v1/orders", {}, format="json").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert api_client.post("/api/v1/orders", {}, format="json").status_code == 400


def test_an_unknown_site_code_is_a_clear_error(site_a):
    with pytest.raises(CommandError, match="no site with code 'nope' \\(known: alfa\\)"):
        _run("nope")
