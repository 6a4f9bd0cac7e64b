"""The low-value referral table on the indicators page in a real browser (Chromium, Playwright):
a region's history with orders flagged by two rules at intake, some of them returned; the
table shows them per site and rule and its CSV download holds the rows the table shows.

INDICATORS_SCREENSHOTS_DIR=/some/dir saves the table's section at 1440x900 and 1920x1080."""

from __future__ import annotations

import csv
import io
import os
import random

import pytest

from benchmarks.bench_indicators import history
from tests import factories
from tests.browser_support import asgi_server, chromium
from tests.test_browser_indicators import open_indicators
from worklists.actors import Actor
from worklists.models import LowValueRule, Study, StudyStatus
from worklists.services.low_value import study_flag_low_value_locked

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FIXTURES = (asgi_server,)

SCREENSHOTS = os.environ.get("INDICATORS_SCREENSHOTS_DIR", "")


@pytest.fixture
def flagged_region(db):
    made = history(random.Random(17), studies=600, readers=8, password=factories.PASSWORD)
    LowValueRule.objects.create(
        position=10, name="Example: CT head for simple syncope", modality="CT",
        text="Eksempel: ikke CT caput ved enkel synkope.",
    )  # fmt: skip
    LowValueRule.objects.create(
        position=20, name="Example: MR for non-specific low back pain", modality="MR",
        text="Eksempel: ikke MR ved uspesifikke korsryggsmerter.",
    )  # fmt: skip
    # Every returned CT or MR order and one in twelve of the others flagged when ordered: the
    # returns the history made came after their flag.
    studies = Study.objects.filter(modality__in=["CT", "MR"]).select_related("site", "patient")
    for study in studies.order_by("id"):
        if study.status == StudyStatus.REJECTED or study.id % 12 == 0:
            study_flag_low_value_locked(study, actor=Actor.system("intake"), at=study.ordered_at)
    return made


def test_the_low_value_table_shows_flags_per_site_and_rule_and_its_csv_matches(
    asgi_server, flagged_region
):
    with chromium() as browser:
        page, refused = open_indicators(
            browser, asgi_server, flagged_region.coordinator_username, width=1440, height=900
        )
        section = page.locator("#table-low_value")
        section.scroll_into_view_if_needed()
        if SCREENSHOTS:
            page.screenshot(path=f"{SCREENSHOTS}/lvind-indicators-low-value-1440x900.png")
            wide, _refused = open_indicators(
                browser, asgi_server, flagged_region.coordinator_username, width=1920, height=1080
            )
            wide.locator("#table-low_value").scroll_into_view_if_needed()
            wide.screenshot(path=f"{SCREENSHOTS}/lvind-indicators-low-value-1920x1080.png")
        shown = section.locator("table").evaluate(
            "t => [...t.rows].slice(1).map(r => [...r.cells].map(c => c.innerText.trim()))"
        )
        with page.expect_download() as download:
            page.click("[data-csv='low_value']")
        lines = list(csv.reader(io.StringIO(download.value.path().read_text())))

        assert len(shown) >= 2
        assert {row[1] for row in shown} == {
            "Example: CT head for simple syncope", "Example: MR for non-specific low back pain",
        }  # fmt: skip
        assert [line[:4] for line in lines[1:]] == [row[:4] for row in shown]
        assert any(int(row[3]) > 0 for row in shown)  # some were returned after their flag
        assert refused == []
