"""A bokmål reader in a real browser: Debian's Chromium driven by Playwright against a live
server. The pages speak Norwegian, and the reading page's autosave stamp reads dd.mm.yyyy HH:MM
on the platform's clock, even in a browser set to US English in New York.

Skipped where no Chromium is installed; CI sets REQUIRE_BROWSER=1, which turns the skip into a
failure.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator

import pytest
from django.urls import reverse

from reports.models import ReportDraft
from tests import factories
from tests.browser_support import chromium
from worklists.services.preferences import user_language_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


STAMP = re.compile(r"^Utkast lagret (\d\d)\.(\d\d)\.(\d{4}) (\d\d):(\d\d)$")


@pytest.fixture
def held(owner, site_a, neuro):
    """Made before the browser starts: Playwright's event loop and the after-commit work of the
    services cannot share this thread."""
    user_language_set(user_id=owner.user.pk, language="nb")
    return factories.held_study(
        owner,
        site=site_a,
        worklist=neuro,
        priority="STAT",
        procedure_text="CT caput uten kontrast",
        clinical_question="Akutt hodepine. Blødning?",
    )


@pytest.fixture
def page(held) -> Iterator:
    with chromium() as browser:
        # A browser that would say "12/3/2026, 4:15:00 AM" in its own zone if asked.
        context = browser.new_context(
            locale="en-US",
            timezone_id="America/New_York",
            viewport={"width": 1440, "height": 900},
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()


def test_a_bokmal_reader_sees_norwegian_and_a_dd_mm_yyyy_24_hour_autosave_stamp(
    owner, held, live_server, page
):
    page.goto(live_server.url + reverse("login"))
    # Anonymous, the login page follows the browser (English here).
    assert page.locator("h1").inner_text() == "Log in"
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")

    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.locator("h1").inner_text() == "Arbeidsliste"
    assert page.locator("#queue-title").inner_text().startswith("Min kø")
    assert page.locator("#language-select").input_value() == "nb"

    page.goto(live_server.url + reverse("reading", args=[held.id]))
    assert page.locator("[data-sign]").inner_text() == "Signer endelig svar"
    assert page.locator("#clinical-title").text_content() == "Klinisk problemstilling"
    # The deadline countdown is written by the script, in bokmål.
    assert page.locator("[data-countdown]").inner_text().endswith("igjen")

    page.fill("#section-findings", "Ingen intrakraniell blødning.")
    status = page.locator("[data-autosave-status][data-state='saved']")
    status.wait_for()

    match = STAMP.match(status.inner_text().strip())
    assert match, status.inner_text()
    day, month, year, hour, minute = (int(part) for part in match.groups())
    saved = ReportDraft.objects.get(study=held).updated_at.astimezone(
        zoneinfo.ZoneInfo("Europe/Oslo")
    )
    assert (day, month, year, hour, minute) == (
        saved.day,
        saved.month,
        saved.year,
        saved.hour,
        saved.minute,
    )


def test_the_language_menu_switches_the_page_to_english(owner, held, live_server, page):
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")
    assert page.locator("[data-read-next]").inner_text() == "Les neste"

    page.click("[data-user-menu] summary")  # the language menu is in the user's menu
    page.select_option("#language-select", "en")
    page.click("[data-language-menu] button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")

    assert page.locator("[data-read-next]").inner_text() == "Read next"
    assert page.locator("html").get_attribute("lang") == "en"
