"""Macros in a real browser (Debian's Chromium driven by Playwright, against a live server):
the reader types the trigger and a macro's name and it expands; the picker inserts another;
the draft autosaves what was inserted; the reader's own macro page keeps their macros.

Skipped where no Chromium is installed; CI sets REQUIRE_BROWSER=1, which turns the skip into a
failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse

from reports.models import Macro, ReportDraft
from reports.services.macros import MacroInput, macro_create
from tests import factories
from tests.browser_support import chromium
from worklists.models import Study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def held(owner, other_radiologist, coordinator, site_a, neuro):
    """A study the owner holds, a macro shared in its worklist, one of the owner's own and one
    of another reader's (made before the browser starts, as in test_browser_reading)."""
    study = factories.held_study(owner, site=site_a, clinical_question="Hodepine. Blødning?")
    # Classification (no rules here) put it in the general worklist; it is a neuro study.
    Study.objects.filter(pk=study.pk).update(worklist=neuro)
    macro_create(
        user=coordinator,
        data=MacroInput(name="normct", text="Ingen intrakraniell blødning. Normale ventrikler."),
        worklist_id=neuro.id,
    )
    macro_create(
        user=owner.user,
        data=MacroInput(name="kontroll", text="Anbefaler kontroll om 3 måneder."),
    )
    macro_create(user=other_radiologist.user, data=MacroInput(name="deres", text="Ikke min tekst."))
    return study


@pytest.fixture
def page(held) -> Iterator:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(15_000)
        yield page


def log_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")


def test_a_macro_typed_by_name_expands_and_one_from_the_picker_is_inserted(
    owner, held, live_server, page
):
    log_in(page, live_server, "owner")
    page.goto(live_server.url + reverse("reading", args=[held.id]))
    # Two macros for this reader on this study: their own and the worklist's, not another's.
    page.wait_for_selector("[data-macros-loaded='2']")

    findings = page.locator("#section-findings")
    findings.fill("")
    findings.click()
    page.keyboard.type("Sammenlignet med tidligere. .normct ")
    assert findings.input_value() == (
        "Sammenlignet med tidligere. Ingen intrakraniell blødning. Normale ventrikler. "
    )

    # A name nobody has stays as typed, and so does a full stop inside a word.
    page.keyboard.type("ca.5 .ukjent ")
    assert findings.input_value().endswith("Normale ventrikler. ca.5 .ukjent ")

    # The picker: filter by name, Enter inserts at the caret of the field last in use.
    conclusion = page.locator("#section-conclusion")
    conclusion.fill("Ingen blødning. ")
    conclusion.press("End")
    page.click("[data-macro-picker-open]")
    page.wait_for_selector("[data-macro-picker][open]")
    page.fill("[data-macro-filter]", "kontr")
    assert page.locator("[data-macro-options] [role=option]").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-macro-picker]", state="hidden")
    assert conclusion.input_value() == "Ingen blødning. Anbefaler kontroll om 3 måneder."

    # Tab expands too, and does not leave the field.
    conclusion.press("End")
    page.keyboard.type(" .normct")
    page.keyboard.press("Tab")
    assert conclusion.input_value().endswith(
        "3 måneder. Ingen intrakraniell blødning. Normale ventrikler."
    )
    assert page.evaluate("document.activeElement.id") == "section-conclusion"

    # What was inserted is autosaved like anything typed.
    page.wait_for_selector("[data-autosave-status][data-state='saved']")
    page.wait_for_function(
        "document.querySelector('[data-autosave-status]').dataset.state === 'saved'"
    )
    draft = ReportDraft.objects.get(study=held)
    texts = {s["key"]: s["text"] for s in draft.sections}
    assert "Ingen intrakraniell blødning" in texts["findings"]
    assert texts["conclusion"].startswith("Ingen blødning. Anbefaler kontroll om 3 måneder.")


def test_the_reader_adds_a_macro_on_their_page_and_uses_it_at_once(owner, held, live_server, page):
    log_in(page, live_server, "owner")
    page.goto(live_server.url + reverse("macros"))
    assert ".kontroll" in page.locator("[data-personal-macros]").inner_text()
    assert "deres" not in page.content()
    page.click("[data-macro-new]")
    page.fill("input[name=name]", "tlf")
    page.fill("textarea[name=text]", "Meddelt rekvirent per telefon.")
    page.click("[data-macro-form] button[type=submit]")
    page.wait_for_url(f"**{reverse('macros')}")
    assert ".tlf" in page.locator("[data-personal-macros]").inner_text()
    assert Macro.objects.filter(owner=owner, name="tlf").exists()

    page.goto(live_server.url + reverse("reading", args=[held.id]))
    page.wait_for_selector("[data-macros-loaded='3']")
    conclusion = page.locator("#section-conclusion")
    conclusion.fill("")
    conclusion.click()
    page.keyboard.type(".tlf")
    page.keyboard.press("Enter")
    assert conclusion.input_value() == "Meddelt rekvirent per telefon."
