"""The capacity planner page in Chromium: a coordinator replays a seeded period with a reader
added and sees both scenarios beside what happened, the back-test and the queue chart; a reader
is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from tests.browser_support import asgi_server, chromium, signed_in_page
from worklists.access import COORDINATORS_GROUP
from worklists.models import Study, Worklist

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FIXTURES = (asgi_server,)


@pytest.fixture
def browser() -> Iterator:
    with chromium() as browser:
        yield browser


@pytest.fixture
def history_start(settings) -> dt.date:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # What the data migrations made and an earlier transactional test's flush may have removed:
    # the demo needs the general worklist and the coordinators' group.
    Worklist.objects.get_or_create(
        is_general=True, defaults={"code": "general", "name": "General", "display_order": 1000}
    )
    Group.objects.get_or_create(name=COORDINATORS_GROUP)
    call_command("seed_demo", "--studies", "0", "--history-days", "3", stdout=StringIO())
    first = (
        Study.objects.filter(accession_number__contains="-H", ready_at__isnull=False)
        .order_by("ready_at")
        .values_list("ready_at", flat=True)
        .first()
    )
    assert first is not None
    return first.date()


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (1920, 1080)])
def test_a_coordinator_replays_a_period_with_a_reader_added_side_by_side(
    browser, asgi_server, history_start, width, height
):
    page = signed_in_page(browser, asgi_server, "coordinator", "demo", width=width, height=height)
    page.goto(asgi_server + reverse("console-planner"))
    page.fill("input[name=start]", history_start.isoformat())
    page.fill("input[name=days]", "2")
    page.select_option("select[name=worklist]", label="Nevroradiologi")
    page.click(".planner-form button[type=submit]")
    page.wait_for_selector(".planner-table", timeout=60000)
    # The demo's coordinator speaks bokmål: the scenarios and priorities are named in it.
    headers = page.locator(".planner-table thead tr").first.text_content() or ""
    assert "Det som skjedde" in headers
    assert "A: periodens egen vaktliste" in headers
    assert "B: +1 radiolog i Nevroradiologi 18-24 på hverdager" in headers
    rows = page.locator(
        ".planner-table:not(.planner-table--readers) tbody th[scope=row]"
    ).all_inner_texts()
    assert rows == ["ØH", "Haster", "Pakkeforløp kreft", "Rutine", "Alle"]
    ticks = page.locator(".planner-chart text.chart-label").all_text_contents()
    # Coordinates are numbers in SVG syntax whatever the language ("137.1", not bokmål's "137,1",
    # which SVG reads as a list and draws each letter but the first off the chart).
    for x in page.locator(".planner-chart line.chart-grid").evaluate_all(
        "lines => lines.map(l => l.getAttribute('x1'))"
    ):
        float(x)
    assert any(
        tick.startswith(("man ", "tir ", "ons ", "tor ", "fre ", "lør ", "søn ")) for tick in ticks
    )
    assert page.locator(".planner-table thead th.planner-group[colspan='3']").count() == 3
    assert page.locator(".planner-chart polyline").count() == 3
    assert "%" in page.locator(".planner-backtest").inner_text()
    # The period reads as the platform writes dates, first to last day (not the midnight after).
    last_day = history_start + dt.timedelta(days=1)
    period = page.locator("#turnaround-title + p.muted").inner_text()
    assert f"{history_start:%d.%m.%Y}" in period
    assert f"{last_day:%d.%m.%Y}" in period
    # Every figure fits the window: nothing wider than the page.
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_radiologist_may_not_open_the_planner(browser, asgi_server, history_start):
    page = signed_in_page(browser, asgi_server, "rad01", "demo", width=1440, height=900)
    response = page.goto(asgi_server + reverse("console-planner"))
    assert response is not None
    assert response.status == 403
