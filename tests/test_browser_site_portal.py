"""The site portal in a real browser (Debian's Chromium, Playwright) against the ASGI
application served in this process: a site user signs in, lands on their portal, sees their
signed report and opens it; a study of theirs signed while the portal is open changes in place.

SITE_PORTAL_SCREENSHOTS_DIR=/tmp saves the portal at 1440x900 and 1920x1080."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from tests import factories
from tests.portal_support import SIGNED_FINDINGS, sign, site_studies
from tests.test_browser_console import asgi_server, browser
from worklists.models import AuditEvent
from worklists.services.preferences import user_language_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FIXTURES = (asgi_server, browser)
SCREENSHOTS = os.environ.get("SITE_PORTAL_SCREENSHOTS_DIR", "")


@pytest.fixture
def studies(site_a, site_b, neuro, owner):
    return site_studies(site=site_a, other_site=site_b, worklist=neuro, reader=owner)


def sign_in(browser, base: str, username: str, *, width: int = 1440, height: int = 900):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(base + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    return page


def test_a_site_user_signs_in_and_sees_their_signed_report(
    asgi_server, browser, site_user, studies
):
    user_language_set(user_id=site_user.pk, language="en")
    page = sign_in(browser, asgi_server, site_user.username)
    page.wait_for_url(f"**{reverse('site-portal')}")

    row = page.locator(f"tr[data-study-id='{studies.final.id}']")
    assert row.is_visible()
    assert "Final" in row.locator("[data-report-status]").inner_text()
    assert "Acknowledged" in row.locator("[data-delivery-status]").inner_text()
    assert page.locator(f"tr[data-study-id='{studies.other_site.id}']").count() == 0
    if SCREENSHOTS:
        for width, height in ((1440, 900), (1920, 1080)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=f"{SCREENSHOTS}/portal-test-{width}x{height}.png", full_page=True)
        page.set_viewport_size({"width": 1440, "height": 900})

    row.locator("[data-report-link]").click()
    page.wait_for_url(f"**{reverse('site-portal-report', args=[studies.final.id])}")
    report = page.locator("[data-portal-report]")
    assert SIGNED_FINDINGS in report.inner_text()
    assert AuditEvent.objects.filter(
        actor=site_user, action=AuditEvent.Action.REPORT_VIEW, object_id=str(studies.final.id)
    ).exists()


def test_a_study_signed_while_the_portal_is_open_changes_in_place(
    asgi_server, browser, site_user, owner, studies
):
    user_language_set(user_id=site_user.pk, language="en")
    page = sign_in(browser, asgi_server, site_user.username)
    page.wait_for_url(f"**{reverse('site-portal')}")
    page.wait_for_selector("[data-live-state='live']", timeout=5000)
    row = f"tr[data-study-id='{studies.reading.id}']"
    assert page.locator(row).get_attribute("data-state") == "reading"

    sign(owner, studies.reading)

    page.wait_for_selector(f"{row}[data-state='final']", timeout=5000)
    assert "Final" in page.locator(f"{row} [data-report-status]").inner_text()
