"""Double reading in a real browser (Debian's Chromium, Playwright) against the ASGI
application served in this process: two readers read a screening mammogram blind, disagree,
a third signs the arbitration, and the test RIS (demo_ris's receiver, over a real socket)
receives exactly one ORU, with the final text.

DOUBLE_READING_SCREENSHOTS_DIR=/tmp saves the reading pages at 1440x900 and 1920x1080."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.urls import reverse

from demo_ris.receiver import ResultReceiver, report_text
from hl7_interface.codec import parse
from hl7_interface.delivery import outbox_drain
from hl7_interface.models import OutboundMessage
from hl7_interface.services import hl7_site_configure
from reports.models import DoubleRead, DoubleReadStage, IndependentRead
from tests import factories
from tests.browser_support import asgi_server, chromium, signed_in_page
from tests.double_reading_support import give, make_cast, screening_study
from worklists.models import Assignment, Shift, StudyStatus
from worklists.services.routing import forget_coverage_cache

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FIXTURES = (asgi_server,)  # a shared fixture, found by name here

SCREENSHOTS = os.environ.get("DOUBLE_READING_SCREENSHOTS_DIR", "")
SIZES = ((1440, 900), (1920, 1080))


@pytest.fixture
def browser() -> Iterator:
    with chromium() as browser:
        yield browser


@pytest.fixture
def ris() -> Iterator[ResultReceiver]:
    with ResultReceiver(host="127.0.0.1", port=0) as receiver:
        yield receiver


def holder_of(study) -> int | None:
    return (
        Assignment.objects.filter(study=study, ended_at__isnull=True)
        .values_list("radiologist_id", flat=True)
        .first()
    )


def shoot(page, name: str) -> None:
    if not SCREENSHOTS:
        return
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=f"{SCREENSHOTS}/double-{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def sign_independent_read(page, *, findings: str, right: str, left: str, recall: str) -> None:
    page.fill("#section-findings", findings)
    page.fill("#section-conclusion", findings)
    page.select_option("#score-right", right)
    page.select_option("#score-left", left)
    page.check(f"input[name=recall][value={recall}]")
    page.fill("#sign-password", factories.PASSWORD)
    page.click("button[data-sign]")
    page.wait_for_selector(".messages, [role=status], .alert", timeout=5000)


def test_two_blind_reads_disagree_and_the_arbitration_is_the_one_report_the_ris_receives(
    asgi_server, browser, ris
):
    cast = make_cast()
    hl7_site_configure(
        site_id=cast.site_a.id,
        ris_host=ris.host,
        ris_port=ris.port,
        receiving_application="RIS",
        receiving_facility="ALFA",
    )
    # Only the two readers are on shift: the second read can only go to reader 2, and the
    # arbitrator comes on shift once both reads are out of the way.
    Shift.objects.filter(radiologist__in=[cast.reader_b, cast.arbitrator]).delete()
    study = give(screening_study(cast), cast.reader1)
    url = asgi_server + reverse("reading", args=[study.id])

    first = signed_in_page(
        browser, asgi_server, "reader1", factories.PASSWORD, width=1440, height=900
    )
    first.goto(url)
    first.wait_for_selector("[data-screening-result]")
    assert first.locator("[data-preliminary]").count() == 0
    shoot(first, "first-read")
    sign_independent_read(
        first, findings="Ingen malignitetssuspekte funn.", right="1", left="1", recall="no"
    )

    assert IndependentRead.objects.filter(double_read__study=study, number=1).exists()
    assert holder_of(study) == cast.reader2.id  # routed on, never back to reader 1
    assert not OutboundMessage.objects.filter(study=study).exists()

    second = signed_in_page(
        browser, asgi_server, "reader2", factories.PASSWORD, width=1440, height=900
    )
    second.goto(url)
    second.wait_for_selector("[data-screening-result]")
    # blind: the first read and its result are nowhere on the second reader's page
    assert second.locator("[data-reads-hidden='1']").count() == 1
    assert second.locator("[data-independent-read]").count() == 0
    assert "Ingen malignitetssuspekte funn." not in second.content()
    shoot(second, "second-read-blind")
    factories.shift(cast.arbitrator, worklists=(cast.mamma,))
    # pushes know a worklist's readers from a short cache (ROUTING_SCOPE_CACHE_SECONDS): the
    # server runs in this process, so forget it rather than wait for the new shift to count
    forget_coverage_cache()
    sign_independent_read(
        second, findings="Spikulert fortetning i venstre bryst.", right="1", left="4", recall="yes"
    )

    assert DoubleRead.objects.get(study=study).stage == DoubleReadStage.ARBITRATION
    assert holder_of(study) == cast.arbitrator.id
    assert not OutboundMessage.objects.filter(study=study).exists()

    third = signed_in_page(
        browser, asgi_server, "arbiter", factories.PASSWORD, width=1440, height=900
    )
    third.goto(url)
    third.wait_for_selector("[data-independent-read='2']")
    assert third.locator("[data-independent-read]").count() == 2
    assert "Ingen malignitetssuspekte funn." in third.content()
    assert "Spikulert fortetning i venstre bryst." in third.content()
    assert third.locator("[data-screening-result]").count() == 0  # the final, signed as usual
    shoot(third, "arbitration")
    third.fill("#section-findings", "Spikulert fortetning i venstre bryst, BI-RADS 4.")
    third.fill("#section-conclusion", "Innkalles til utredning.")
    third.fill("#sign-password", factories.PASSWORD)
    third.click("button[data-sign]")
    third.wait_for_selector("[data-version='1'][data-kind='FINAL']", timeout=5000)
    shoot(third, "final")

    study.refresh_from_db()
    assert study.status == StudyStatus.FINAL
    outbox_drain()
    (received,) = ris.wait_for(1)
    oru = parse(received.raw)
    assert oru.first("OBR").text(18) == study.accession_number
    assert oru.first("OBR").text(25) == "F"
    text = "\n".join(report_text(received.raw))
    assert "Innkalles til utredning." in text
    assert "Reader1 Lege" in text
    assert "Reader2 Lege" in text
    assert "Arbiter Lege" in text
    outbox_drain()
    assert len(ris.wait_for(2, timeout=1.0)) == 1  # exactly one: the reads never went out
    assert OutboundMessage.objects.filter(study=study).count() == 1
