"""Reading and signing in a real browser: Debian's Chromium driven by Playwright against a live
server. The reader logs in, presses "Read next", sees the priors from another site with their
reports, types the report (autosaved), signs it with the password and sees it marked for
delivery.

Skipped where no Chromium is installed; CI sets REQUIRE_BROWSER=1, which turns the skip into a
failure.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from django.urls import reverse
from django.utils import timezone

from hl7_interface.models import OutboundMessage
from reports.models import ReportDraft, ReportVersion
from reports.services.signing import report_sign
from tests import factories
from tests.browser_support import chromium
from worklists.models import AuditEvent, StudyStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _signed_prior(reader, site, patient):
    prior = factories.held_study(
        reader,
        site=site,
        patient=patient,
        procedure_text="CT thorax med kontrast",
        ordered_at=timezone.now() - dt.timedelta(days=60),
    )
    ReportDraft.objects.create(
        study=prior,
        sections=factories.report_sections(findings="Små lungeembolier i høyre underlapp."),
        author=reader.user,
        author_name=reader.display_name,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    report_sign(study_id=prior.id, user=reader.user, password=factories.PASSWORD)
    return prior


@pytest.fixture
def reading(owner, outsider, site_a, site_b, neuro, general_worklist):
    """A READY study in the owner's worklist and shift, and a signed prior of the same patient
    from another site.

    Made before the browser starts: Playwright's event loop and the after-commit work of the
    services cannot share this thread. The shift comes after the prior, so that routing does
    not push the prior to the owner.
    """
    factories.credential(owner, site_b)
    patient = factories.PatientFactory(family_name="Ødegård", given_name="Åse", sex="F")
    prior = _signed_prior(outsider, site_b, patient)
    factories.shift(owner, worklists=(neuro,))
    study = factories.ready_study(
        site_a,
        neuro,
        patient=patient,
        procedure_text="CT caput uten kontrast",
        clinical_question="Akutt hodepine. Blødning?",
        priority="STAT",
    )
    return study, prior


@pytest.fixture
def page(reading) -> Iterator:
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(15_000)
        yield page


def log_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")


def test_read_next_then_priors_then_typing_then_signing_marks_the_report_for_delivery(
    owner, reading, live_server, page
):
    study, prior = reading
    log_in(page, live_server, "owner")
    page.click("[data-read-next]")
    page.wait_for_url(f"**{reverse('reading', args=[study.id])}")

    assert page.locator("h1").inner_text() == "CT caput uten kontrast"
    study.refresh_from_db()
    assert study.status == StudyStatus.IN_PROGRESS  # opened by its holder
    assert "Akutt hodepine. Blødning?" in page.locator("[data-clinical-question]").inner_text()
    prior_card = page.locator(f"[data-prior-id='{prior.id}']")
    assert "bravo" in prior_card.inner_text().lower()
    assert "Små lungeembolier i høyre underlapp." in prior_card.inner_text()

    page.fill("#section-findings", "Ingen intrakraniell blødning. Ingen masseeffekt.")
    page.fill("#section-conclusion", "Normal CT caput.")
    page.wait_for_selector("[data-autosave-status][data-state='saved']")
    draft = ReportDraft.objects.get(study=study)
    assert draft.author == owner.user
    assert draft.sections[3]["text"] == "Normal CT caput."

    page.fill("#sign-password", factories.PASSWORD)
    page.click("[data-sign]")
    page.wait_for_selector("text=Report signed and marked for delivery (F).")

    version = page.locator("[data-version='1'][data-kind='FINAL']")
    assert "Ingen intrakraniell blødning. Ingen masseeffekt." in version.inner_text()
    assert version.locator("[data-delivery]").count() == 1
    signed = ReportVersion.objects.get(study=study)
    assert signed.signed_by == owner
    assert signed.sections[3]["text"] == "Normal CT caput."
    message = OutboundMessage.objects.get(study=study)
    assert message.result_status == "F"
    assert version.locator("[data-delivery]").get_attribute("data-delivery") == message.status
    study.refresh_from_db()
    assert study.status == StudyStatus.FINAL
    assert AuditEvent.objects.filter(
        actor=owner.user, action="report.view", object_id=str(prior.id)
    ).exists()


def test_a_wrong_password_in_the_browser_signs_nothing_and_keeps_the_text(
    owner, reading, live_server, page
):
    study, _prior = reading
    log_in(page, live_server, "owner")
    page.click("[data-read-next]")
    page.wait_for_url(f"**{reverse('reading', args=[study.id])}")

    page.fill("#section-findings", "Tekst som ikke må gå tapt.")
    page.fill("#sign-password", "not the password")
    page.click("[data-sign]")

    page.wait_for_selector("[data-error]")
    assert "nothing was signed" in page.locator("[data-error]").inner_text()
    assert page.input_value("#section-findings") == "Tekst som ikke må gå tapt."
    assert not ReportVersion.objects.filter(study=study).exists()


def test_signing_straight_after_typing_signs_what_is_on_the_screen(
    owner, reading, live_server, page
):
    study, _prior = reading
    log_in(page, live_server, "owner")
    page.click("[data-read-next]")
    page.wait_for_url(f"**{reverse('reading', args=[study.id])}")
    page.fill("#section-findings", "Første versjon.")
    page.wait_for_selector("[data-autosave-status][data-state='saved']")

    # No pause for the autosave: the form posts the text itself.
    page.fill("#section-findings", "Siste versjon, skrevet rett før signering.")
    page.fill("#sign-password", factories.PASSWORD)
    page.click("[data-sign]")
    page.wait_for_selector("text=Report signed and marked for delivery (F).")

    signed = ReportVersion.objects.get(study=study)
    assert signed.sections[2]["text"] == "Siste versjon, skrevet rett før signering."


def test_text_typed_just_before_leaving_the_page_is_saved(owner, reading, live_server, page):
    study, _prior = reading
    log_in(page, live_server, "owner")
    page.click("[data-read-next]")
    page.wait_for_url(f"**{reverse('reading', args=[study.id])}")

    page.fill("#section-findings", "Skrevet rett før jeg gikk.")
    page.goto(live_server.url + reverse("worklist"))

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        draft = ReportDraft.objects.filter(study=study).first()
        if draft is not None:
            break
        time.sleep(0.1)
    assert draft is not None
    assert draft.sections[2]["text"] == "Skrevet rett før jeg gikk."
