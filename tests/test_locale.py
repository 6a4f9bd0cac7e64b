"""The interface's language and its dates: a user's chosen language (bokmål or English) on every
page, the language menu, the login page for anonymous visitors, 24-hour dd.mm.yyyy HH:MM in the
platform's zone in both languages, and catalogs that are complete and compiled."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from hl7_interface.models import OutboundMessage
from reports.services.rejections import referral_reject
from tests import factories
from worklists.locale import SESSION_LANGUAGE_KEY
from worklists.models import StudyEvent, UserPreference
from worklists.services.preferences import UnknownLanguage, user_language_set

pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
OSLO = zoneinfo.ZoneInfo("Europe/Oslo")


@pytest.fixture(autouse=True)
def _platform_language_after_each_test():
    # Django's LocaleMiddleware leaves an anonymous request's language active in the thread
    # (every request sets its own); the next test module must start in the platform default.
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def study(owner, site_a, neuro):
    return factories.held_study(
        owner,
        site=site_a,
        worklist=neuro,
        priority="URGENT",
        clinical_question="Hodepine, blødning?",
        procedure_text="CT caput uten kontrast",
    )


def speaking(client, user, language):
    user_language_set(user_id=user.pk, language=language)
    client.force_login(user)
    return client


# Pages in the user's language


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        (
            "nb",
            ["Arbeidsliste", "Les neste", "Min kø", "Frist", "Prioritet", "Haster"],
            ["My queue"],
        ),
        ("en", ["Worklist", "Read next", "My queue", "Deadline", "Priority", "Urgent"], ["Min kø"]),
    ],
)
def test_the_worklist_speaks_the_users_language(owner, study, client, language, expected, absent):
    response = speaking(client, owner.user, language).get(reverse("worklist"))

    assert response.status_code == 200
    html = response.content.decode()
    for text in expected:
        assert text in html
    for text in absent:
        assert text not in html
    assert f'<html lang="{language}">' in html
    assert response["Content-Language"] == language


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "nb",
            ["Klinisk problemstilling", "Henvisende lege", "Tidligere undersøkelser", "Tildelt"],
        ),
        ("en", ["Clinical question", "Referring physician", "Prior studies", "Assigned"]),
    ],
)
def test_the_study_page_speaks_the_users_language(owner, study, client, language, expected):
    response = speaking(client, owner.user, language).get(reverse("study", args=[study.id]))

    assert response.status_code == 200
    html = response.content.decode()
    for text in expected:
        assert text in html


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        (
            "nb",
            ["Signer endelig svar", "Gi foreløpig svar", "Returner henvisningen", "Henvisning"],
            ["Sign final report"],
        ),
        (
            "en",
            ["Sign final report", "Issue preliminary", "Return the referral", "Order"],
            ["Signer endelig svar"],
        ),
    ],
)
def test_the_reading_page_speaks_the_users_language(
    owner, study, client, language, expected, absent
):
    response = speaking(client, owner.user, language).get(reverse("reading", args=[study.id]))

    assert response.status_code == 200
    html = response.content.decode()
    for text in expected:
        assert text in html
    for text in absent:
        assert text not in html


def test_a_refused_signature_is_explained_in_the_readers_language(owner, study, client):
    speaking(client, owner.user, "nb")

    response = client.post(
        reverse("reading-sign", args=[study.id]),
        {
            "password": "wrong",
            "revision": "0",
            "section_count": "1",
            "sections-0-key": "findings",
            "sections-0-title": "Funn",
            "sections-0-text": "Ingen blødning.",
        },
    )

    assert response.status_code == 403
    assert "passordet er feil; ingenting ble signert" in response.content.decode()


def test_a_user_who_has_not_chosen_gets_the_platform_default(owner, study, client, settings):
    settings.LANGUAGE_CODE = "nb"
    client.force_login(owner.user)

    response = client.get(reverse("worklist"), HTTP_ACCEPT_LANGUAGE="en")

    assert "Les neste" in response.content.decode()
    assert not UserPreference.objects.filter(user=owner.user).exists()


def test_the_language_is_read_once_at_login_not_on_every_page(owner, client):
    user_language_set(user_id=owner.user.pk, language="nb")
    client.force_login(owner.user)
    assert client.session[SESSION_LANGUAGE_KEY] == "nb"
    # Changed behind the session's back (another device): this session keeps its language
    # until the next login, and no page pays a query to look.
    UserPreference.objects.filter(user=owner.user).update(language="en")

    response = client.get(reverse("worklist"))

    assert "Les neste" in response.content.decode()
    assert client.session[SESSION_LANGUAGE_KEY] == "nb"


def test_a_session_from_before_the_preference_reads_it_once(owner, client):
    user_language_set(user_id=owner.user.pk, language="nb")
    client.force_login(owner.user)
    session = client.session
    del session[SESSION_LANGUAGE_KEY]
    session.save()

    response = client.get(reverse("worklist"))

    assert "Les neste" in response.content.decode()
    assert client.session[SESSION_LANGUAGE_KEY] == "nb"


def test_logging_in_with_the_form_takes_the_stored_language(owner, client):
    user_language_set(user_id=owner.user.pk, language="nb")

    response = client.post(
        reverse("login"), {"username": "owner", "password": factories.PASSWORD}, follow=True
    )

    assert client.session[SESSION_KEY] == str(owner.user.pk)
    assert "Arbeidsliste" in response.content.decode()


# The language menu


def test_the_menu_stores_the_choice_and_the_next_page_speaks_it(owner, client):
    client.force_login(owner.user)

    response = client.post(reverse("language-set"), {"language": "nb", "next": reverse("worklist")})

    assert response.status_code == 302
    assert response["Location"] == reverse("worklist")
    assert UserPreference.objects.get(user=owner.user).language == "nb"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "nb"
    assert "Les neste" in client.get(reverse("worklist")).content.decode()

    client.post(reverse("language-set"), {"language": "en", "next": reverse("worklist")})

    assert UserPreference.objects.get(user=owner.user).language == "en"
    assert "Read next" in client.get(reverse("worklist")).content.decode()


def test_the_menu_is_on_every_page_with_the_current_language_selected(owner, study, client):
    speaking(client, owner.user, "nb")

    for url in (reverse("worklist"), reverse("study", args=[study.id])):
        html = client.get(url).content.decode()
        assert 'action="/preferences/language"' in html
        assert '<option value="nb" lang="nb" selected>Norsk bokmål</option>' in html


def test_the_menu_refuses_an_unknown_language_and_keeps_the_stored_one(owner, client):
    speaking(client, owner.user, "nb")

    response = client.post(reverse("language-set"), {"language": "sv"})

    assert response.status_code == 400
    assert UserPreference.objects.get(user=owner.user).language == "nb"
    with pytest.raises(UnknownLanguage):
        user_language_set(user_id=owner.user.pk, language="de")


def test_the_menu_never_sends_the_user_to_another_site(owner, client):
    client.force_login(owner.user)

    response = client.post(
        reverse("language-set"), {"language": "nb", "next": "https://evil.example/"}
    )

    assert response["Location"] == reverse("worklist")


def test_the_menu_needs_the_csrf_token(owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)

    response = client.post(reverse("language-set"), {"language": "nb"})

    assert response.status_code == 403
    assert not UserPreference.objects.filter(user=owner.user).exists()


def test_another_users_choice_is_their_own(owner, other_radiologist, client):
    speaking(client, owner.user, "nb")

    response = speaking(client, other_radiologist.user, "en").get(reverse("worklist"))

    assert "Read next" in response.content.decode()
    assert UserPreference.objects.get(user=owner.user).language == "nb"


# Anonymous pages


def test_the_login_page_follows_the_browser(client):
    assert "Logg inn" in client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="nb-NO").content.decode()
    assert "Log in" in client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()
    assert "Log in" in client.get(reverse("login")).content.decode()  # LANGUAGE_CODE


def test_an_anonymous_choice_is_a_cookie_the_login_page_reads(client):
    response = client.post(reverse("language-set"), {"language": "nb", "next": reverse("login")})

    assert response.status_code == 302
    assert not UserPreference.objects.exists()
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Brukernavn" in page


# What stays English


def test_returning_a_referral_from_a_bokmal_page_sends_english_to_the_ris(owner, study):
    with translation.override("nb"):
        referral_reject(
            study_id=study.id,
            user=owner.user,
            reason="INSUFFICIENT_INFO",
            comment="Mangler klinisk informasjon.",
        )

    event = StudyEvent.objects.filter(study=study, to_status="REJECTED").get()
    assert event.reason == "Insufficient clinical information: Mangler klinisk informasjon."
    message = OutboundMessage.objects.get(study=study)
    assert "Insufficient clinical information" in json.dumps(message.content)
    assert "Mangelfulle" not in json.dumps(message.content)


def test_a_critical_finding_signed_from_a_bokmal_page_tells_the_ris_in_english(owner, study):
    from reports.models import ReportDraft
    from reports.services.signing import CommunicationInput, report_sign

    ReportDraft.objects.create(
        study=study,
        sections=factories.report_sections(conclusion="Stor subdural blødning."),
        author=owner.user,
        author_name=owner.display_name,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    with translation.override("nb"):
        report_sign(
            study_id=study.id,
            user=owner.user,
            password=factories.PASSWORD,
            critical_category="RED",
            communication=CommunicationInput(
                communicated_to="Dr. Berg, LIS Alfa",
                method="PHONE",
                communicated_at=timezone.now(),
                read_back_confirmed=True,
            ),
        )

    content = json.dumps(OutboundMessage.objects.get(study=study).content, ensure_ascii=False)
    assert "Telephone" in content
    assert "Telefon" not in content
    assert "Stor subdural blødning." in content  # the report itself is as written


def test_the_api_speaks_english_field_names_in_any_language(owner, study, client):
    speaking(client, owner.user, "nb")

    response = client.get(f"/api/v1/studies/{study.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ASSIGNED"
    assert body["priority"] == "URGENT"
    assert "clinical_question" in body


# Dates and times


@pytest.mark.parametrize("language", ["nb", "en"])
@pytest.mark.parametrize(
    ("utc", "shown"),
    [
        # Winter time, UTC+1.
        (dt.datetime(2026, 1, 15, 21, 5, tzinfo=dt.UTC), "15.01.2026 22:05"),
        # Summer time, UTC+2, and the day changes in Oslo.
        (dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC), "02.07.2026 00:30"),
        # The spring change (29 March 2026, 02:00 -> 03:00): the minute after 01:59 UTC+1.
        (dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC), "29.03.2026 03:00"),
    ],
)
def test_dates_read_dd_mm_yyyy_hh_mm_in_oslo_in_every_language(language, utc, shown):
    template = Template(
        '{{ at|date:"SHORT_DATETIME_FORMAT" }}|{{ at|date:"DATETIME_FORMAT" }}|{{ at }}'
    )

    with translation.override(language), timezone.override(OSLO):
        rendered = template.render(Context({"at": utc}))
        assert date_format(utc.astimezone(OSLO).date()) == shown[:10]

    assert rendered == f"{shown}|{shown}|{shown}"


@pytest.mark.parametrize(("language", "chrome"), [("nb", "Logg ut"), ("en", "Log out")])
def test_the_admin_change_list_shows_dd_mm_yyyy_hh_mm(
    coordinator, site_a, client, language, chrome
):
    coordinator.is_staff = True
    coordinator.is_superuser = True
    coordinator.save()
    study = factories.StudyFactory(
        site=site_a, deadline=dt.datetime(2026, 7, 1, 6, 15, tzinfo=dt.UTC)
    )

    response = speaking(client, coordinator, language).get(
        reverse("admin:worklists_study_changelist")
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert study.accession_number in html
    assert "01.07.2026 08:15" in html
    assert "a.m." not in html
    assert chrome in html


def test_the_reading_page_stamps_the_saved_draft_with_date_and_24_hour_time(owner, study, client):
    from reports.models import ReportDraft

    saved = dt.datetime(2026, 10, 25, 0, 45, tzinfo=dt.UTC)  # the night summer time ends
    ReportDraft.objects.create(
        study=study,
        sections=factories.report_sections(),
        author=owner.user,
        author_name=owner.display_name,
        created_at=saved,
        updated_at=saved,
    )

    html = speaking(client, owner.user, "nb").get(reverse("reading", args=[study.id])).content
    # 00:45 UTC is 02:45 summer time, the last quarter before the clocks go back.
    assert "Utkast lagret <time" in html.decode()
    assert ">25.10.2026 02:45</time>" in html.decode()


@pytest.mark.parametrize(
    ("language", "minutes", "shown"),
    [
        ("nb", 12, "om 12 min"),
        ("nb", -65, "over fristen med 1 t 5 min"),
        ("nb", 3 * 24 * 60 + 120, "om 3 d 2 t"),
        ("en", 12, "in 12 min"),
        ("en", -65, "overdue by 1 h 5 min"),
    ],
)
def test_the_live_countdown_speaks_the_page_language(language, minutes, shown):
    from worklists.templatetags.live_tags import countdown

    now = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    with translation.override(language):
        assert countdown(now + dt.timedelta(minutes=minutes), now) == shown


def test_the_page_tells_its_scripts_the_platform_zone(owner, client):
    html = speaking(client, owner.user, "en").get(reverse("worklist")).content.decode()

    assert 'data-time-zone="Europe/Oslo"' in html


def test_the_javascript_catalog_carries_the_bokmal_strings(client):
    response = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="nb")

    assert response.status_code == 200
    assert "Utkast lagret %s" in response.content.decode()


# The catalogs


def _placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%(?:\(\w+\))?[sd]", text))


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_bokmal_entry_is_translated_with_the_same_placeholders(domain):
    catalog = polib.pofile(str(LOCALE_DIR / "nb" / "LC_MESSAGES" / f"{domain}.po"))

    assert len(catalog) > 0
    assert catalog.untranslated_entries() == []
    assert catalog.fuzzy_entries() == []
    for entry in catalog.translated_entries():
        if entry.msgid_plural:
            for form in entry.msgstr_plural.values():
                assert _placeholders(form) == _placeholders(entry.msgid_plural), entry.msgid
        else:
            assert _placeholders(entry.msgstr) == _placeholders(entry.msgid), entry.msgid


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_committed_mo_file_is_compiled_from_the_po_file(domain):
    directory = LOCALE_DIR / "nb" / "LC_MESSAGES"
    source = polib.pofile(str(directory / f"{domain}.po"))
    compiled = polib.mofile(str(directory / f"{domain}.mo"))

    def entries(catalog: polib._BaseFile) -> dict[tuple[str, str], object]:
        return {
            (e.msgctxt or "", e.msgid): (
                tuple(sorted(e.msgstr_plural.items())) if e.msgid_plural else e.msgstr
            )
            for e in catalog
            if not e.obsolete and "fuzzy" not in e.flags
        }

    assert entries(compiled) == entries(source), (
        f"{directory / domain}.mo is stale: run `manage.py compilemessages -l nb`"
    )


def test_the_mo_files_are_not_ignored_by_git():
    ignored = (Path(settings.BASE_DIR) / ".gitignore").read_text().splitlines()

    assert not any(pattern.strip() in {"*.mo", "locale/", "*.po"} for pattern in ignored)
