"""Surge in a real browser: a coordinator starts one from the console's form; the reader's
worklist page shows its line without a reload, and loses it when the surge is ended.

SURGE_SCREENSHOTS_DIR=/path saves the console and the worklist at 1440x900 and 1920x1080."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from tests import factories
from tests.browser_support import asgi_server  # noqa: F401
from tests.console_support import operation
from tests.test_browser_console import browser, open_console  # noqa: F401
from worklists.models import Surge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("SURGE_SCREENSHOTS_DIR", "")


def open_worklist(browser, base: str, username: str, *, width: int = 1440, height: int = 900):  # noqa: F811
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(base + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")
    page.goto(base + reverse("worklist") + "?tab=neuro")
    page.wait_for_selector("[data-live-state='live']", timeout=5000)
    return page


def test_a_surge_started_on_the_console_reaches_the_readers_worklist_without_a_reload(
    asgi_server,  # noqa: F811
    browser,  # noqa: F811
    site_a,
    site_b,
    neuro,
    owner,
    coordinator,
):
    operation(site_a=site_a, site_b=site_b, neuro=neuro, owner=owner)
    reader = open_worklist(browser, asgi_server, "owner")
    assert reader.locator("[data-surge-line]").count() == 0
    console = open_console(browser, asgi_server, "coord")

    console.click("[data-surge-open]")
    console.select_option("[data-surge-worklist]", "neuro")
    console.fill("[data-surge-reason]", "CT outage at Fjordheim, 40 studies waiting")
    console.click("[data-surge-submit]")
    console.wait_for_selector("#console-surges .console-surge", timeout=3000)

    surge = Surge.objects.get()
    # the form closes after the start
    console.wait_for_selector("[data-surge-form]", state="hidden", timeout=2000)
    line = reader.wait_for_selector("[data-surge-line]", timeout=3000)
    assert "Nevroradiologi to backup readers until" in line.inner_text()
    assert "CT outage at Fjordheim" in line.inner_text()

    if SCREENSHOTS:
        for width, height in ((1440, 900), (1920, 1080)):
            for name, page in (
                (
                    "console",
                    open_console(browser, asgi_server, "coord", width=width, height=height),
                ),
                (
                    "worklist",
                    open_worklist(browser, asgi_server, "owner", width=width, height=height),
                ),
            ):
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(
                    path=os.path.join(SCREENSHOTS, f"surge-{name}-{width}x{height}.png")
                )
                page.context.close()
        console.click("[data-surge-open]")
        console.screenshot(path=os.path.join(SCREENSHOTS, "surge-start-form-1440x900.png"))
        console.click("[data-surge-open]")

    console.click(f"[data-surge-id='{surge.id}'] [data-surge-end]")
    reader.wait_for_selector("[data-surge-line]", state="detached", timeout=3000)
    surge.refresh_from_db()
    assert surge.end_reason == "ended"
