"""The indicators page in a real browser (Debian's Chromium, Playwright) against the ASGI
application served by uvicorn in this process, with every request that does not go to this
server refused: the charts are drawn with nothing from outside, and each table's CSV download
holds the rows the table shows.

INDICATORS_SCREENSHOTS_DIR=/some/dir saves the page at 1440x900 and 1920x1080."""

from __future__ import annotations

import csv
import io
import os
import random
from urllib.parse import urlparse

import pytest
from django.urls import reverse

from benchmarks.bench_indicators import history
from tests import factories
from tests.browser_support import asgi_server, chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIXTURES = (asgi_server,)  # the live server, shared (pytest finds fixtures by name here)
SCREENSHOTS = os.environ.get("INDICATORS_SCREENSHOTS_DIR", "")


@pytest.fixture
def region(db):
    return history(random.Random(17), studies=1500, readers=12, password=factories.PASSWORD)


def open_indicators(browser, base: str, username: str, *, width: int, height: int):
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    refused: list[str] = []

    def only_this_server(route) -> None:
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    page = context.new_page()
    page.goto(base + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")
    page.goto(base + reverse("indicators"))
    return page, refused


def test_the_charts_are_drawn_without_the_network_and_each_csv_matches_its_table(
    asgi_server, region
):
    with chromium() as browser:
        page, refused = open_indicators(
            browser, asgi_server, region.coordinator_username, width=1440, height=900
        )
        if SCREENSHOTS:
            page.screenshot(path=f"{SCREENSHOTS}/indicators-1440x900.png", full_page=False)
            page.screenshot(path=f"{SCREENSHOTS}/indicators-1440-full.png", full_page=True)
            wide, _refused = open_indicators(
                browser, asgi_server, region.coordinator_username, width=1920, height=1080
            )
            wide.screenshot(path=f"{SCREENSHOTS}/indicators-1920x1080.png", full_page=False)
        for key in ("site-turnaround", "site-deadline", "priority-deadline"):
            chart = page.locator(f"[data-chart='{key}'] svg")
            assert chart.is_visible()
            bars = page.locator(f"[data-chart='{key}'] .indicator-bar__rect")
            assert bars.count() >= 4
            widths = [float(bars.nth(i).get_attribute("width")) for i in range(bars.count())]
            assert max(widths) > 0
            box = chart.bounding_box()
            assert box is not None
            assert box["width"] > 300
            assert box["height"] > 60
        # Elvedal reads three times slower: marked on the chart and in the table.
        assert page.locator("[data-chart='site-turnaround'] .indicator-bar--marked").count() == 1
        assert "Elvedal" in page.locator("#table-sites .indicator-row--marked").inner_text()

        for key in ("sites", "turnaround", "readers"):
            shown = page.locator(f"#table-{key} table").evaluate(
                "t => [...t.rows].slice(1).map(r => r.cells[0].innerText.trim())"
            )
            with page.expect_download() as download:
                page.click(f"[data-csv='{key}']")
            lines = list(csv.reader(io.StringIO(download.value.path().read_text())))
            assert [line[0] for line in lines[1:]] == shown, key
            header = page.locator(f"#table-{key} thead th").all_inner_texts()
            assert len(lines[0]) == len(header)

        assert refused == []
