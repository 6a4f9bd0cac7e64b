"""The reader's loop in a real browser (Debian's Chromium, Playwright, live server): three
studies read and signed with the keyboard alone through "Sign and next"; the clinical question,
the deadline and the first report section in view without scrolling at 1920x1080 and 1440x900;
single-key shortcuts that never fire while typing; and worklist tabs that all stay on screen.

Skipped where no Chromium is installed; CI sets REQUIRE_BROWSER=1, which turns the skip into a
failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse

from reports.models import ReportVersion
from reports.views import NOTHING_LEFT
from tests import factories
from tests.browser_support import chromium
from worklists.models import Assignment, StudyStatus
from worklists.services.routing import forget_coverage_cache

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def three_studies(owner, site_a, neuro, general_worklist):
    """Three READY studies of three patients in the owner's worklist and shift, most urgent first.

    Made before the browser starts: Playwright's event loop and the after-commit work of the
    services cannot share this thread.
    """
    forget_coverage_cache()
    factories.shift(owner, worklists=(neuro,))
    return [
        factories.ready_study(
            site_a,
            neuro,
            priority=priority,
            procedure_text=text,
            clinical_question=question,
            patient=factories.PatientFactory(family_name=name),
        )
        for priority, text, question, name in (
            ("STAT", "CT caput uten kontrast", "Akutt hodepine. Blødning?", "Ødegård"),
            ("URGENT", "CT columna cervicalis", "Fall fra stige. Fraktur?", "Sælen"),
            ("ROUTINE", "MR caput med kontrast", "Kontroll etter meningeom.", "Aas"),
        )
    ]


@pytest.fixture
def browser() -> Iterator:
    with chromium() as browser:
        yield browser


def open_page(browser, live_server, username: str, width: int = 1440, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    # Generous: the machine running the suite may be busy; a wait ends as soon as it is met.
    page.set_default_timeout(45_000)
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{reverse('worklist')}*")
    return page


def test_a_reader_signs_three_studies_with_the_keyboard_alone_using_sign_and_next(
    owner, three_studies, live_server, browser
):
    page = open_page(browser, live_server, "owner")

    # "Read next" has the focus on the worklist: Enter claims and opens the most urgent study.
    page.keyboard.press("Enter")
    for number, study in enumerate(three_studies, start=1):
        page.wait_for_url(f"**{reverse('reading', args=[study.id])}")
        assert page.locator("h1").inner_text() == study.procedure_text
        page.keyboard.press("j")  # into the first report section
        page.keyboard.press("Alt+ArrowDown")  # technique
        page.keyboard.press("Alt+ArrowDown")  # findings
        assert page.evaluate("document.activeElement.id") == "section-findings"
        page.keyboard.type(f"Funn nummer {number}. Ingen akutte funn.")
        page.keyboard.press("Alt+ArrowDown")
        page.keyboard.type("Normal undersøkelse.")
        page.keyboard.press("Alt+s")
        assert page.evaluate("document.activeElement.id") == "sign-password"
        page.keyboard.type(factories.PASSWORD)
        page.keyboard.press("Enter")  # the default button: sign and next

    page.wait_for_url(f"**{reverse('worklist')}*")
    assert NOTHING_LEFT in page.locator(".messages").inner_text()
    for number, study in enumerate(three_studies, start=1):
        study.refresh_from_db()
        assert study.status == StudyStatus.FINAL
        version = ReportVersion.objects.get(study=study)
        assert version.signed_by == owner
        assert version.sections[2]["text"] == f"Funn nummer {number}. Ingen akutte funn."
        assert version.sections[3]["text"] == "Normal undersøkelse."


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1440, 900)])
def test_the_question_the_deadline_and_the_first_report_section_are_in_view_without_scrolling(
    owner, three_studies, live_server, browser, width, height
):
    page = open_page(browser, live_server, "owner", width, height)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{reverse('reading', args=[three_studies[0].id])}")

    assert page.evaluate("window.scrollY") == 0
    first_section = page.locator("[data-section-key]").first
    for what in (
        page.locator("[data-clinical-question]"),
        page.locator("[data-deadline]"),
        page.locator(".reading-head .patient-name"),
        first_section.locator("label"),
        first_section.locator("textarea"),
    ):
        assert what.is_visible()
        box = what.bounding_box()
        assert box is not None
        assert 0 <= box["y"] <= height - box["height"], (what, box)
        assert 0 <= box["x"] <= width - box["width"], (what, box)
    assert "Akutt hodepine. Blødning?" in page.locator("[data-clinical-question]").inner_text()
    # Priors sit beside the editor, not below it.
    side = page.locator(".reading-columns__side").bounding_box()
    editor = page.locator(".editor").bounding_box()
    assert side is not None
    assert editor is not None
    assert side["x"] >= editor["x"] + editor["width"]
    assert side["y"] < height


def test_single_keys_never_fire_while_typing_and_question_mark_lists_the_shortcuts(
    owner, three_studies, live_server, browser
):
    page = open_page(browser, live_server, "owner")
    page.keyboard.press("Enter")
    first, second, _third = three_studies
    page.wait_for_url(f"**{reverse('reading', args=[first.id])}")

    page.focus("#section-findings")
    page.keyboard.type("n s p v w j k ?")
    assert page.input_value("#section-findings") == "n s p v w j k ?"
    assert page.evaluate("document.activeElement.id") == "section-findings"
    assert not page.locator("[data-shortcuts]").is_visible()
    assert page.url.endswith(reverse("reading", args=[first.id]))

    page.locator("h1").click()  # out of the text field
    page.keyboard.press("?")
    overlay = page.locator("[data-shortcuts]")
    assert overlay.is_visible()
    for listed in ("Read next", "Next report section", "Sign", "Preliminary", "viewer", "worklist"):
        assert listed in overlay.inner_text()
    page.keyboard.press("Escape")
    assert not overlay.is_visible()

    page.keyboard.press("p")
    assert page.evaluate("document.activeElement.hasAttribute('data-preliminary-next')")
    page.locator("h1").click()
    page.keyboard.press("n")  # read next: the first study stays the reader's, the next opens
    page.wait_for_url(f"**{reverse('reading', args=[second.id])}")
    assert Assignment.objects.filter(study=first, radiologist=owner, ended_at__isnull=True).exists()
    page.keyboard.press("w")
    page.wait_for_url(f"**{reverse('worklist')}*")


@pytest.fixture
def many_worklists(owner, site_a, neuro, general_worklist):
    names = [
        "Muskel og skjelett",
        "Thoraxradiologi",
        "Hjerteradiologi",
        "Abdominalradiologi",
        "Mammaradiologi",
        "Barneradiologi",
        "Akuttradiologi",
        "Nukleærmedisin",
        "Intervensjonsradiologi",
        "Karradiologi",
    ]
    made = [
        factories.WorklistFactory(code=f"wl{index}", name=name, display_order=index)
        for index, name in enumerate(names)
    ]
    for worklist in made:
        factories.ready_study(site_a, worklist)
    return made


@pytest.mark.parametrize("width", [1280, 1440, 1920])
def test_no_worklist_tab_is_hidden_off_screen_at_1280_pixels_or_more(
    owner, many_worklists, live_server, browser, width
):
    page = open_page(browser, live_server, "owner", width, 900)

    tabs = page.locator("[data-tab]")
    assert tabs.count() == len(many_worklists) + 2  # and neuro, general
    for index in range(tabs.count()):
        box = tabs.nth(index).bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= width - box["width"], (index, box)
    assert page.evaluate(
        "(() => { const t = document.querySelector('.tabs'); "
        "return t.scrollWidth <= t.clientWidth; })()"
    )
