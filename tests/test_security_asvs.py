"""The web part as an OWASP ASVS 4.0 level 2 checklist: one section per chapter that applies, each
test named for the requirement it checks. Where another module already checks a requirement, the
section names that test instead of repeating it.

Personas (tests/conftest.py): the owner (radiologist at site A), another radiologist at A, an
outsider (radiologist of site B only), a site user of A and a coordinator.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests import factories
from worklists.models import Study
from worklists.services.tokens import personal_token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def study_a(site_a, neuro) -> Study:
    return factories.ready_study(site_a, neuro)


@pytest.fixture
def held_by_owner(owner, site_a, neuro) -> Study:
    return factories.held_study(owner, site=site_a, worklist=neuro)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- V2 Authentication ------------------------------------------------------------------------
# V2.2.1 anti-automation (lock-out on the login page, the admin and the token API):
#   tests/test_signin_lockout.py.
# V2.8 / V2.2.3 second factor (TOTP, recovery codes): tests/test_second_factor.py.
# V2.1.5 users can change their password: tests/test_password_change.py.
# V2.10 service credentials (site tokens hashed, rotated): tests/test_personal_tokens.py,
#   tests/test_site_token_command.py.


def test_v2_1_1_a_password_shorter_than_12_characters_is_refused(owner):
    with pytest.raises(ValidationError):
        validate_password("Kort-pass1", user=owner.user)


def test_v2_1_7_a_common_password_is_refused(owner):
    with pytest.raises(ValidationError):
        validate_password("password1234", user=owner.user)


def test_v2_2_1_a_wrong_password_does_not_sign_in(owner):
    client = Client()
    answer = client.post(
        reverse("login"), {"username": owner.user.username, "password": "not-the-password"}
    )
    assert answer.status_code == 200
    assert "_auth_user_id" not in client.session


# --- V3 Session management --------------------------------------------------------------------


def test_v3_4_1_session_cookie_is_httponly_and_samesite(owner):
    client = Client()
    client.post(reverse("login"), {"username": owner.user.username, "password": factories.PASSWORD})
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"].lower() in {"lax", "strict"}


def test_v3_2_1_signing_in_issues_a_new_session_id(owner):
    client = Client()
    client.get(reverse("login"))
    client.cookies[django_settings.SESSION_COOKIE_NAME] = "planted-by-an-attacker"
    client.post(reverse("login"), {"username": owner.user.username, "password": factories.PASSWORD})
    assert client.cookies[django_settings.SESSION_COOKIE_NAME].value != "planted-by-an-attacker"
    assert client.get(reverse("worklist")).status_code == 200


def test_v3_3_1_after_logout_the_old_session_no_longer_works(owner):
    client = signed_in(owner.user)
    old_session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))

    replay = Client()
    replay.cookies[django_settings.SESSION_COOKIE_NAME] = old_session
    answer = replay.get(reverse("worklist"))
    assert answer.status_code == 302
    assert reverse("login") in answer["Location"]


def test_v3_3_2_a_session_expires_within_a_working_day():
    assert 0 < django_settings.SESSION_COOKIE_AGE <= 12 * 3600


# --- V4 Access control ------------------------------------------------------------------------
# V4.1.3 across the API (every operation, every role): tests/test_api_schemathesis.py and
#   tests/test_access.py, tests/test_reports_access.py.


def test_v4_1_3_a_reader_of_one_site_cannot_read_another_sites_study_by_id(outsider, study_a):
    client = signed_in(outsider.user)
    assert client.get(reverse("study", args=[study_a.id])).status_code in {403, 404}
    assert client.get(reverse("reading", args=[study_a.id])).status_code in {403, 404}


def test_v4_1_3_a_site_user_cannot_read_another_sites_study_by_id(site_user, site_b, neuro):
    study_b = factories.ready_study(site_b, neuro)
    assert signed_in(site_user).get(reverse("study", args=[study_b.id])).status_code in {403, 404}


def test_v4_1_1_another_radiologist_cannot_write_the_owners_report(
    other_radiologist, held_by_owner
):
    client = APIClient()
    client.force_authenticate(user=other_radiologist.user)
    answer = client.put(
        reverse("api-report", args=[held_by_owner.id]),
        {"sections": factories.report_sections(), "revision": 0},
        format="json",
    )
    assert answer.status_code in {403, 404, 409}


def test_v4_1_1_a_site_user_cannot_assign_a_study(site_user, owner, study_a):
    answer = signed_in(site_user).post(
        reverse("study-assign", args=[study_a.id]), {"radiologist": owner.id}
    )
    assert answer.status_code in {403, 404}
    assert not study_a.assignments.exists()


def test_v4_2_2_a_form_post_without_csrf_token_is_refused(coordinator, owner, study_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    answer = client.post(reverse("study-assign", args=[study_a.id]), {"radiologist": owner.id})
    assert answer.status_code == 403


def test_v4_3_1_the_admin_is_refused_to_a_radiologist(owner):
    answer = signed_in(owner.user).get("/admin/worklists/study/")
    assert answer.status_code == 302
    assert "/admin/login/" in answer["Location"]


# --- V5 Validation, sanitisation and encoding -------------------------------------------------
# V5.3.4 SQL injection and V5.1 input validation across the API: tests/test_api_schemathesis.py.


def test_v5_3_3_a_patient_name_is_escaped_on_the_study_page(owner, site_a, neuro):
    patient = factories.PatientFactory(family_name="<script>alert(1)</script>")
    study = factories.held_study(owner, site=site_a, worklist=neuro, patient=patient)
    page = signed_in(owner.user).get(reverse("study", args=[study.id])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_v5_1_3_a_malformed_api_body_is_a_clear_400(owner, held_by_owner):
    client = APIClient()
    client.force_authenticate(user=owner.user)
    answer = client.put(
        reverse("api-report", args=[held_by_owner.id]),
        "{not json",
        content_type="application/json",
    )
    assert answer.status_code == 400


# --- V7 Error handling and logging ------------------------------------------------------------
# V7.1 / V7.2 refused reads and admin lists are audited: tests/test_privacy_audit.py.
# V7.1.1 no national numbers in access logs: tests/test_deployment_defaults.py.


def test_v7_4_1_an_error_page_reveals_no_stack_trace(owner):
    assert not django_settings.DEBUG
    answer = signed_in(owner.user).get("/studies/999999999/")
    body = answer.content.decode()
    assert answer.status_code == 404
    assert "Traceback" not in body
    assert "settings.py" not in body
    assert "URLconf" not in body


def test_v7_4_1_an_api_error_names_no_internals(owner):
    client = APIClient()
    client.force_authenticate(user=owner.user)
    answer = client.get("/api/v1/studies/999999999")
    assert answer.status_code == 404
    assert "Traceback" not in answer.content.decode()


# --- V8 Data protection -----------------------------------------------------------------------
# V8.2.1 on every page and API answer: tests/test_deployment_defaults.py.


def test_v8_2_1_patient_pages_are_not_cached(owner, held_by_owner):
    answer = signed_in(owner.user).get(reverse("study", args=[held_by_owner.id]))
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]


def test_v8_3_1_patient_data_never_travels_in_a_url(owner, held_by_owner):
    # Pages link to studies by their database id, never by name, accession or national number.
    page = signed_in(owner.user).get(reverse("worklist")).content.decode()
    patient = held_by_owner.patient
    assert f"={patient.family_name}" not in page
    assert f"/{held_by_owner.accession_number}" not in page


# --- V9 Communications ------------------------------------------------------------------------
# V9.1.1 HTTPS redirect and HSTS in production: tests/test_deployment_defaults.py
#   (test_https_is_required_in_production_except_for_the_health_check and
#   test_production_defaults_to_https_hsts_and_a_second_factor).
# V9.2 TLS for the HL7 and DICOM listeners: tests/test_hl7_listener_security.py,
#   tests/test_dicom_receiver_security.py.


# --- V13 API and web service ------------------------------------------------------------------


def test_v13_1_3_an_api_call_without_credentials_is_refused(study_a):
    assert APIClient().get(f"/api/v1/studies/{study_a.id}").status_code in {401, 403}
    assert APIClient().get("/api/v1/studies").status_code in {401, 403}


def test_v13_1_4_a_site_token_cannot_read_another_sites_study(site_a_client, site_b, neuro):
    study_b = factories.ready_study(site_b, neuro)
    assert site_a_client.get(f"/api/v1/studies/{study_b.id}").status_code in {403, 404}
    listed = site_a_client.get("/api/v1/studies").content.decode()
    assert study_b.accession_number not in listed


def test_v13_2_1_a_personal_token_does_not_open_the_browser_session(owner):
    # A token authenticates API calls only; it gives no session for the pages.
    key = personal_token_issue(user_id=owner.user.pk).key
    answer = Client().get(reverse("worklist"), HTTP_AUTHORIZATION=f"Token {key}")
    assert answer.status_code == 302


# --- V14 Configuration ------------------------------------------------------------------------
# V14.2 dependencies are pinned to ranges in pyproject.toml; V14.4.3 CSP without inline script:
#   tests/test_deployment_defaults.py::test_every_page_has_a_csp_without_inline_script.


@pytest.mark.parametrize("path", ["/login/", "/worklist/", "/api/v1/studies"])
def test_v14_4_x_security_headers_present(owner, path):
    answer = signed_in(owner.user).get(path)
    assert answer.status_code == 200
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["X-Frame-Options"] in {"DENY", "SAMEORIGIN"}
    assert answer["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin"}
    assert "Content-Security-Policy" in answer
    assert "frame-ancestors 'none'" in answer["Content-Security-Policy"]


def test_v14_3_2_debug_mode_is_off():
    assert not django_settings.DEBUG


def test_v14_5_3_a_cross_origin_request_gets_no_cors_grant(owner):
    answer = signed_in(owner.user).get("/api/v1/studies", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in answer
