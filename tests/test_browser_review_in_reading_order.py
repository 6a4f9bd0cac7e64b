"""A peer review in the reader's loop, in a real browser (Debian's Chromium, Playwright, live
server): "Read next" on the worklist opens the review when it comes first in the reading order,
on the reading page, blind; the reader scores it and is back on the worklist, where the study
due after it is next.

Skipped where no Chromium is installed; CI sets REQUIRE_BROWSER=1, which turns the skip into a
failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import timezone

from quality.models import ReviewStatus, ReviewTask
from quality.reading_order import review_reading_url
from quality.services.sampling import review_sample
from tests import factories
from tests.browser_support import chromium
from tests.quality_support import final_version, policy
from worklists.services.routing import forget_coverage_cache

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def review_then_study(owner, other_radiologist, site_a, neuro):
    """A blind review for the other radiologist due in two hours, and a routine study due in a
    day in their worklist and shift. Made before the browser starts."""
    owner.user.last_name = "Forfattersen"
    owner.user.save()
    policy(neuro, share="100", blind_author=True)
    task = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    assert task is not None
    assert task.reviewer_id == other_radiologist.id
    ReviewTask.objects.filter(id=task.id).update(deadline=timezone.now() + dt.timedelta(hours=2))
    forget_coverage_cache()
    factories.shift(other_radiologist, worklists=(neuro,))
    study = factories.ready_study(
        site_a,
        neuro,
        procedure_text="MR caput med kontrast",
        deadline=timezone.now() + dt.timedelta(days=1),
    )
    return task, study


@pytest.fixture
def browser() -> Iterator:
    with chromium() as browser:
        yield browser


def test_read_next_opens_the_review_first_and_score_and_next_goes_on_to_the_study(
    other_radiologist, review_then_study, live_server, browser
):
    task, study = review_then_study
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(45_000)
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", other_radiologist.user.username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{reverse('worklist')}*")
    # The review is in the reader's queue.
    assert page.locator(f'[data-queue-task="peer-review:{task.id}"]').is_visible()

    page.keyboard.press("Enter")  # "Read next" has the focus
    page.wait_for_url(f"**{review_reading_url(study_id=task.study_id, review_id=task.id)}")
    assert page.locator("[data-reading-task]").is_visible()
    assert "Forfattersen" not in page.content()
    page.locator('input[name=score][value="1"]').check()
    page.locator("[data-score-next]").click()

    # The reading loop goes on: the review is scored, and the study is the next in order.
    page.wait_for_url(f"**{reverse('reading', args=[study.id])}")
    task.refresh_from_db()
    assert task.status == ReviewStatus.SCORED
