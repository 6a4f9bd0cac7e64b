"""The second factor (TOTP with recovery codes, django-otp): required for coordinators and
radiologists where SIGNIN_SECOND_FACTOR_REQUIRED is on, enrolled at the first sign-in."""

from __future__ import annotations

import re
import time
from base64 import b32decode

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests import factories
from worklists.models import PersonalToken
from worklists.services.signin import recovery_codes_renew

pytestmark = pytest.mark.django_db

SECOND_FACTOR = "/account/second-factor/"


@pytest.fixture
def required(settings):
    settings.SIGNIN_SECOND_FACTOR_REQUIRED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def signed_in(username: str) -> Client:
    client = Client()
    response = client.post("/login/", {"username": username, "password": factories.PASSWORD})
    assert response.status_code == 302, response.content
    return client


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def test_off_by_default_a_radiologist_signs_in_with_the_password_alone(owner):
    client = signed_in("owner")

    assert client.get("/worklist/").status_code == 200


@pytest.mark.usefixtures("required")
@pytest.mark.parametrize("persona", ["owner", "coordinator"])
def test_when_required_every_page_leads_to_the_second_factor_until_it_is_given(request, persona):
    user = request.getfixturevalue(persona)
    username = getattr(user, "user", user).username
    client = Client()

    response = client.post("/login/", {"username": username, "password": factories.PASSWORD})
    assert response.status_code == 302
    page = client.get("/worklist/")
    api = client.get("/api/v1/worklists")

    assert page.status_code == 302
    assert page["Location"] == f"{SECOND_FACTOR}?next=/worklist/"
    assert api.status_code == 403
    assert client.get("/admin/").status_code == 302


@pytest.mark.usefixtures("required")
def test_a_site_user_needs_no_second_factor(site_user):
    client = signed_in("alfa-desk")

    assert client.get("/worklist/").status_code == 200


@pytest.mark.usefixtures("required")
def test_the_first_sign_in_enrols_an_authenticator_with_a_qr_code_and_recovery_codes(owner):
    client = signed_in("owner")

    page = client.get(f"{SECOND_FACTOR}?next=/worklist/")
    assert page.status_code == 200
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=owner.user, confirmed=False)
    # The key shown for typing in by hand is the device's own.
    shown = re.search(rb"data-secret>([A-Z2-7 ]+)<", page.content)
    assert shown is not None
    assert b32decode(shown.group(1).replace(b" ", b"")) == device.bin_key

    wrong = client.post(SECOND_FACTOR, {"code": "000000", "next": "/worklist/"})
    assert wrong.status_code == 200
    assert b"does not match" in wrong.content
    assert client.get("/worklist/").status_code == 302

    done = client.post(SECOND_FACTOR, {"code": code_for(device), "next": "/worklist/"})
    assert done.status_code == 200
    codes = re.findall(rb"<li>([a-z0-9]+)</li>", done.content)
    assert len(codes) == 10
    assert TOTPDevice.objects.get(id=device.id).confirmed
    assert client.get("/worklist/").status_code == 200


@pytest.mark.usefixtures("required")
def test_a_later_sign_in_verifies_the_apps_code_and_goes_on_to_next(owner):
    device = enrolled(owner.user)
    client = signed_in("owner")

    page = client.get(f"{SECOND_FACTOR}?next=/worklist/")
    assert b"<svg" not in page.content  # verification, not a second enrolment
    response = client.post(SECOND_FACTOR, {"code": code_for(device), "next": "/worklist/"})

    assert response.status_code == 302
    assert response["Location"] == "/worklist/"
    assert client.get("/worklist/").status_code == 200


@pytest.mark.usefixtures("required")
def test_next_cannot_lead_off_the_site(owner):
    device = enrolled(owner.user)
    client = signed_in("owner")

    response = client.post(
        SECOND_FACTOR, {"code": code_for(device), "next": "https://evil.example/"}
    )

    assert response["Location"] == "/worklist/"


@pytest.mark.usefixtures("required")
def test_a_recovery_code_signs_in_once(owner):
    enrolled(owner.user)
    codes = recovery_codes_renew(user_id=owner.user.pk)

    first = signed_in("owner")
    assert first.post(SECOND_FACTOR, {"code": codes[0]}).status_code == 302
    assert first.get("/worklist/").status_code == 200

    second = signed_in("owner")
    again = second.post(SECOND_FACTOR, {"code": codes[0]})
    assert again.status_code == 200
    assert b"not valid" in again.content
    assert second.get("/worklist/").status_code == 302
    assert StaticToken.objects.filter(device__user=owner.user).count() == 9


@pytest.mark.usefixtures("required")
def test_another_users_code_does_not_verify(owner, other_radiologist):
    enrolled(owner.user)
    others = enrolled(other_radiologist.user)
    client = signed_in("owner")

    response = client.post(SECOND_FACTOR, {"code": code_for(others)})

    assert response.status_code == 200
    assert client.get("/worklist/").status_code == 302


@pytest.mark.usefixtures("required")
def test_the_token_api_asks_for_the_second_factor(owner):
    device = enrolled(owner.user)
    api = APIClient()
    credentials = {"username": "owner", "password": factories.PASSWORD}

    without = api.post("/api/v1/auth/token", credentials, format="json")
    wrong = api.post("/api/v1/auth/token", {**credentials, "otp": "000000"}, format="json")
    right = api.post("/api/v1/auth/token", {**credentials, "otp": code_for(device)}, format="json")

    assert without.status_code == 400
    assert wrong.status_code == 400
    assert right.status_code == 200
    assert PersonalToken.objects.filter(user=owner.user).count() == 1


@pytest.mark.usefixtures("required")
def test_the_token_api_sends_an_unenrolled_user_to_the_web_first(owner):
    response = APIClient().post(
        "/api/v1/auth/token",
        {"username": "owner", "password": factories.PASSWORD, "otp": "123456"},
        format="json",
    )

    assert response.status_code == 400
    assert "set it up by logging in on the web" in response.data["errors"]["non_field_errors"][0]
    assert not PersonalToken.objects.exists()


@pytest.mark.usefixtures("required")
def test_logging_out_is_possible_before_the_second_factor(owner):
    client = signed_in("owner")

    client.post("/logout/")

    assert SESSION_KEY not in client.session
