"""The pages in a real browser: Debian's Chromium driven by Playwright against a live server.

Skipped where no Chromium is installed (a bare developer machine); CI installs it and sets
REQUIRE_BROWSER=1, which turns the skip into a failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse

from tests import factories
from tests.browser_support import chromium
from worklists.actors import Actor
from worklists.models import AuditEvent
from worklists.services.studies import study_mark_ready

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page() -> Iterator:
    with chromium() as browser:
        page = browser.new_page()
        yield page


@pytest.fixture
def ready_study(site_a, neuro):
    # Made before the browser starts: Playwright's event loop and the after-commit broadcast
    # cannot share this thread.
    factories.RuleFactory(worklist=neuro, modality="CT", body_part="HEAD")
    patient = factories.PatientFactory(family_name="Ødegård", given_name="Åse", sex="F")
    study = factories.StudyFactory(
        site=site_a, patient=patient, procedure_text="CT caput uten kontrast", priority="STAT"
    )
    return study_mark_ready(study_id=study.id, actor=Actor.system("test"))


def test_a_radiologist_logs_in_sees_the_worklist_and_opens_a_study(
    owner, ready_study, live_server, page
):
    study = ready_study
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")

    row = page.locator(f"tr[data-study-id='{study.id}']")
    assert row.is_visible()
    assert "Ødegård, Åse" in row.inner_text()
    assert page.locator("[data-tab='neuro'][aria-current='page']").is_visible()

    row.locator("a", has_text="CT caput uten kontrast").click()
    page.wait_for_url(f"**{reverse('study', args=[study.id])}")
    assert page.locator("h1").inner_text() == "CT caput uten kontrast"
    assert study.study_instance_uid in page.locator("[data-viewer-link]").get_attribute("href")
    assert AuditEvent.objects.filter(
        actor=owner.user, action="study.view", object_id=str(study.id)
    ).exists()


def test_a_wrong_password_keeps_the_user_on_the_login_page(owner, live_server, page):
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")

    assert page.url.startswith(live_server.url + reverse("login"))
    assert page.locator("input[name=password]").is_visible()
    assert "Log out" not in page.content()


def test_a_radiologist_on_shift_presses_read_next_and_lands_on_the_reading_page(
    owner, neuro, ready_study, live_server, page
):
    from worklists.models import Assignment
    from worklists.services.routing import forget_coverage_cache

    forget_coverage_cache()
    # The study was routed when it became ready, before the shift began: still in the pool.
    factories.shift(owner, worklists=(neuro,))
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")

    page.click("[data-read-next]")
    page.wait_for_url(f"**{reverse('reading', kwargs={'study_id': ready_study.id})}")

    assert Assignment.objects.get(study=ready_study, ended_at__isnull=True).radiologist == owner
