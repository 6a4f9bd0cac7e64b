"""Live pages in a real browser (Debian's Chromium, Playwright) against the real ASGI application
(HTTP and WebSockets) served by uvicorn in this process: lists change in place, without a reload,
and a new STAT in the reader's queue is announced."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.urls import reverse

from tests import factories
from tests.browser_support import asgi_server, chromium, signed_in_page
from worklists.actors import Actor
from worklists.services.claims import study_coordinator_assign
from worklists.services.routing import forget_coverage_cache
from worklists.services.studies import study_mark_ready

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FIXTURES = (asgi_server,)  # the live server, shared (pytest finds fixtures by name here)


SCREENSHOTS = os.environ.get("LIVE_SCREENSHOTS_DIR", "")


@pytest.fixture
def browser() -> Iterator:
    with chromium(extra_args=["--autoplay-policy=no-user-gesture-required"]) as browser:
        yield browser


def open_worklist(browser, base: str, username: str, *, width: int = 1440, height: int = 900):
    page = signed_in_page(browser, base, username, factories.PASSWORD, width=width, height=height)
    page.wait_for_selector("[data-live-state='live']", timeout=5000)
    return page


@pytest.fixture
def pool(site_a, neuro, owner, other_radiologist):
    """Two READY neuro studies in the pool, nobody on shift (signing in would fill a queue)."""
    factories.RuleFactory(worklist=neuro, modality="CT", body_part="HEAD")
    studies = []
    for family in ("Ødegård", "Bakken"):
        patient = factories.PatientFactory(family_name=family, given_name="Åse", sex="F")
        study = factories.StudyFactory(
            site=site_a, patient=patient, procedure_text="CT caput uten kontrast"
        )
        studies.append(study_mark_ready(study_id=study.id, actor=Actor.system("test")))
    return studies


def test_a_second_readers_list_changes_in_place_within_two_seconds_of_a_claim(
    asgi_server, browser, pool, owner, neuro
):
    watcher = open_worklist(browser, asgi_server, "other")
    claimed_first = pool[0]  # the earlier deadline: read next takes it
    status = watcher.locator(f"tr[data-study-id='{claimed_first.id}'] .status")
    assert status.inner_text() == "Ready"
    assert watcher.locator("[data-tab='neuro'] .tab__count").inner_text() == "2"
    watcher.evaluate("window.__stillTheSamePage = 'yes'")

    claimer = open_worklist(browser, asgi_server, "owner")
    forget_coverage_cache()
    factories.shift(owner, worklists=(neuro,))
    claimer.click("[data-read-next]")

    # within 2 seconds of the press, before even looking at where the claimer went
    watcher.wait_for_function(
        f"""() => {{
          const s = document.querySelector("tr[data-study-id='{claimed_first.id}'] .status");
          // claimed, then opened by the claimer at once: either is the claim seen in place
          return s && ["Assigned", "In progress"].includes(s.textContent.trim());
        }}""",
        timeout=2000,
    )
    claimer.wait_for_url(f"**{reverse('reading', kwargs={'study_id': claimed_first.id})}")
    assert watcher.evaluate("window.__stillTheSamePage") == "yes"  # no reload
    assert watcher.locator("#live-notice").count() == 0
    assert watcher.locator("text=Refresh").count() == 0
    # the other study is untouched and still listed, in deadline order
    order = watcher.eval_on_selector_all(
        "tbody[data-live-list='studies'] tr", "rows => rows.map(r => Number(r.dataset.studyId))"
    )
    assert order == [s.id for s in pool]


def test_a_stat_pushed_to_the_reader_appears_in_reading_order_and_is_announced(
    asgi_server, browser, pool, owner, site_a, neuro, coordinator
):
    reader = open_worklist(browser, asgi_server, "owner", width=1920, height=1080)
    reader.click("[data-sound-toggle]")
    assert reader.locator("[data-sound-toggle]").inner_text() == "Sound on"
    assert reader.evaluate("localStorage.getItem('telerad.sound')") == "on"
    reader.evaluate("window.__stillTheSamePage = 'yes'")
    routine = pool[1]
    study_coordinator_assign(
        study_id=routine.id, radiologist_id=owner.id, actor=Actor.for_user(coordinator), reason="x"
    )
    reader.wait_for_selector(f"tr[data-queue-study-id='{routine.id}']", timeout=2000)
    assert reader.locator(".live-toast").count() == 0  # a routine study is not announced

    stat = study_mark_ready(
        study_id=factories.StudyFactory(
            site=site_a, priority="STAT", procedure_text="CT caput akutt"
        ).id,
        actor=Actor.system("test"),
    )
    study_coordinator_assign(
        study_id=stat.id, radiologist_id=owner.id, actor=Actor.for_user(coordinator), reason="x"
    )

    toast = reader.locator(".live-toast")
    toast.wait_for(timeout=2000)
    assert "New STAT in your queue" in toast.inner_text()
    assert "CT caput akutt" in toast.inner_text()
    assert toast.is_visible()
    # the STAT goes first: the reading order of read next
    queue = reader.eval_on_selector_all(
        "tbody[data-live-list='queue'] tr",
        "rows => rows.map(r => Number(r.dataset.queueStudyId))",
    )
    assert queue == [stat.id, routine.id]
    assert reader.locator("#queue-count").inner_text() == "2"
    # heard: one beep for turning sound on, one for the announcement
    reader.wait_for_function("document.body.dataset.liveBeeps === '2'", timeout=2000)
    assert reader.evaluate("window.__stillTheSamePage") == "yes"
    if SCREENSHOTS:
        reader.screenshot(path=os.path.join(SCREENSHOTS, "worklist-1920x1080-stat.png"))


def test_the_deadline_labels_tick_in_the_browser(asgi_server, browser, pool, owner):
    reader = open_worklist(browser, asgi_server, "owner")
    label = reader.locator(f"tr[data-study-id='{pool[0].id}'] .countdown")
    before = label.inner_text()
    assert before.startswith("in ")

    # An hour later on the client's clock (and back to the tab) the label says an hour less.
    reader.evaluate(
        """() => {
          const real = Date.now;
          Date.now = () => real() + 3600 * 1000;
          window.dispatchEvent(new Event("focus"));
        }"""
    )
    reader.wait_for_function(
        f"""() => document.querySelector("tr[data-study-id='{pool[0].id}'] .countdown")
                     .textContent !== {before!r}""",
        timeout=2000,
    )
    after = label.inner_text()
    assert after.startswith("in ")
    assert after != before


def test_the_study_page_shows_a_new_status_and_holder_in_place(
    asgi_server, browser, pool, owner, coordinator
):
    study = pool[0]
    page = open_worklist(browser, asgi_server, "other")
    page.goto(asgi_server + reverse("study", args=[study.id]))
    page.wait_for_selector("[data-live-state='live']", timeout=5000)
    assert page.locator("#study-head .status").inner_text() == "Ready"
    page.evaluate("window.__stillTheSamePage = 'yes'")

    study_coordinator_assign(
        study_id=study.id, radiologist_id=owner.id, actor=Actor.for_user(coordinator), reason="x"
    )

    page.wait_for_function(
        f"""() => document.querySelector("#study-head .status").textContent.trim() === "Assigned"
                 && document.querySelector("#study-reading").textContent
                      .includes({owner.display_name!r})""",
        timeout=2000,
    )
    assert "Assigned" in page.locator("#study-history").inner_text()
    assert page.evaluate("window.__stillTheSamePage") == "yes"


def test_a_page_that_lost_its_socket_catches_up_after_reconnecting(
    asgi_server, browser, pool, owner, coordinator
):
    study = pool[0]
    page = open_worklist(browser, asgi_server, "other")
    page.evaluate(
        """() => {
          window.__stillTheSamePage = "yes";
          window.__sent = [];
          const send = WebSocket.prototype.send;
          WebSocket.prototype.send = function (data) {
            window.__sent.push(data);
            return send.call(this, data);
          };
          window.teleradLiveSocket.close();
        }"""
    )
    page.wait_for_selector("[data-live-state='offline']", timeout=2000)

    # Changed while this page hears nothing.
    study_coordinator_assign(
        study_id=study.id, radiologist_id=owner.id, actor=Actor.for_user(coordinator), reason="x"
    )

    page.wait_for_function(
        f"""() => document.querySelector("tr[data-study-id='{study.id}'] .status")
                     .textContent.trim() === "Assigned" """,
        timeout=5000,
    )
    [resync] = page.evaluate("window.__sent.map(JSON.parse)")
    assert resync["type"] == "resync"
    assert isinstance(resync["since"], int)
    assert page.evaluate("window.__stillTheSamePage") == "yes"


def test_after_a_gap_too_long_to_list_the_page_refetches_its_lists_in_place(
    asgi_server, browser, pool, owner, coordinator, settings
):
    settings.LIVE_RESYNC_MAX_STUDIES = 0  # any change during the gap: refetch everything
    first, second = pool
    page = open_worklist(browser, asgi_server, "other")
    page.evaluate("window.__stillTheSamePage = 'yes'; window.teleradLiveSocket.close()")
    page.wait_for_selector("[data-live-state='offline']", timeout=2000)

    study_coordinator_assign(
        study_id=first.id, radiologist_id=owner.id, actor=Actor.for_user(coordinator), reason="x"
    )

    page.wait_for_function(
        f"""() => document.querySelector("tr[data-study-id='{first.id}'] .status")
                     .textContent.trim() === "Assigned" """,
        timeout=5000,
    )
    page.wait_for_selector("[data-live-state='live']", timeout=2000)
    assert page.evaluate("window.__stillTheSamePage") == "yes"

    # The refetched region is live like the first one: the next change arrives row by row.
    study_coordinator_assign(
        study_id=second.id, radiologist_id=owner.id, actor=Actor.for_user(coordinator), reason="x"
    )
    page.wait_for_function(
        f"""() => document.querySelector("tr[data-study-id='{second.id}'] .status")
                     .textContent.trim() === "Assigned" """,
        timeout=5000,
    )
