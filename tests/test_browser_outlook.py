"""The capacity outlook's console panel in a real browser: it loads by itself, marks the short
hours, and stays when the console's live region is refetched (the region's hx-target and
hx-select must not be lent to it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from tests import factories
from tests.browser_support import asgi_server
from tests.test_browser_console import browser, open_console

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FIXTURES = (asgi_server, browser)


def test_the_console_panel_loads_marks_short_hours_and_survives_a_live_refresh(
    asgi_server, browser, coordinator, site_a, neuro
):
    factories.ready_study(site_a, neuro, work_units=Decimal("3"))  # nobody on the roster
    page = open_console(browser, asgi_server, coordinator.username)

    page.wait_for_selector("#console-outlook [data-outlook-panel]", timeout=10000)
    row = page.locator("[data-outlook-worklist='neuro']")
    assert row.get_attribute("data-short-hours") == "24"
    assert page.locator("[data-outlook-worklist='neuro'] [data-short]").count() == 24

    page.evaluate("htmx.trigger(document.getElementById('console-live'), 'live-refresh')")
    page.wait_for_timeout(1500)

    assert page.locator("#console-outlook [data-outlook-panel]").count() == 1
    assert page.locator("#console-backlog").count() == 1
    outlook_url = reverse("console-outlook")
    page.click(f"#console-outlook a[href='{outlook_url}']")
    page.wait_for_selector("[data-outlook='day']")
