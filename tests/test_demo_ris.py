"""The demo's test RIS (demo_ris): `manage.py serve` runs it on the embedded default, it points
the demo sites at itself over a real TCP socket, and a report signed in the demo reaches it and is
acknowledged (AA) instead of retrying towards dead-letter. `ris_simulator` gives a site's endpoint
back when it exits."""

from __future__ import annotations

import threading
import time
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from demo_ris.embedded import point_demo_sites_at, running_demo_ris
from hl7_interface.codec import parse
from hl7_interface.delivery import outbox_drain
from hl7_interface.models import OutboundMessage, OutboundStatus, SiteHl7Config
from teleradiology.embedded import start_embedded_services
from tests import factories
from worklists.access import COORDINATORS_GROUP
from worklists.demo.data import SITES
from worklists.models import Credential, Radiologist, Site, StudyStatus

pytestmark = pytest.mark.django_db(transaction=True)
DEMO_CODES = [spec.code for spec in SITES]


def wait_until(what: str, check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except OperationalError:
            # SQLite in memory: a table another thread is writing in a transaction is locked
            # (not waited for); ask again.
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def demo(general_worklist):
    """The demo's people and sites as `make run` seeds them (no studies: the test makes one)."""
    # The migrations create the coordinators' group; a transactional test before may flush it.
    Group.objects.get_or_create(name=COORDINATORS_GROUP)
    call_command("seed_demo", "--studies", "0", stdout=StringIO())
    reader = Radiologist.objects.get(user__username="rad01")
    today = timezone.localdate()
    credential = (
        Credential.objects.filter(
            radiologist=reader, valid_from__lte=today, site__code__in=DEMO_CODES
        )
        .exclude(valid_until__lt=today)
        .select_related("site")
        .first()
    )
    assert credential is not None
    return reader, credential.site


def sign(client: Client, study_id: int) -> None:
    draft = client.put(
        reverse("api-report", args=[study_id]),
        {"sections": factories.report_sections(findings="Ingen blødning."), "revision": 0},
        content_type="application/json",
    )
    assert draft.status_code == 200, draft.content
    signed = client.post(
        reverse("api-report-sign", args=[study_id]),
        {
            "password": "demo",
            "sections": factories.report_sections(findings="Ingen blødning."),
            "revision": 1,
        },
        content_type="application/json",
    )
    assert signed.status_code == 201, signed.content


@override_settings(
    CELERY_BEAT_SCHEDULE={},
    EMBEDDED_SERVICES=["demo_ris.embedded.run_embedded"],
    DEMO_RIS_HOST="127.0.0.1",
    DEMO_RIS_PORT=0,
)
def test_a_report_signed_in_the_demo_reaches_the_demo_ris_and_is_acknowledged(demo):
    reader, site = demo
    stop = threading.Event()
    threads = start_embedded_services(stop)
    try:
        config = wait_until(
            "the demo RIS to take the demo sites",
            lambda: SiteHl7Config.objects.filter(site=site, ris_port__isnull=False).first(),
        )
        assert config.ris_host == "127.0.0.1"
        # All demo sites in one transaction: the first one seen means all of them.
        assert SiteHl7Config.objects.filter(
            site__code__in=DEMO_CODES, ris_host="127.0.0.1", ris_port=config.ris_port
        ).count() == len(DEMO_CODES)

        study = factories.held_study(reader, site=site)
        client = Client()
        client.force_login(reader.user)
        sign(client, study.id)
        # On `make run` the periodic drain delivers it (HL7_DRAIN_INTERVAL_SECONDS: no request
        # waits on a RIS); here the same service, called from this thread, because an in-memory
        # SQLite database refuses a second thread's writes instead of waiting for them.
        outbox_drain()

        message = OutboundMessage.objects.get(study=study)
        assert message.status == OutboundStatus.DELIVERED
        assert message.ack_code == "AA"
        assert parse(message.ack_message.encode()).first("MSA").text(1) == "AA"
        study.refresh_from_db()
        assert study.status == StudyStatus.FINAL

        page = client.get(reverse("reading", args=[study.id]))
        assert page.status_code == 200
        assert 'data-delivery="DELIVERED"' in page.content.decode()
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not any(thread.is_alive() for thread in threads)


def test_the_demo_ris_keeps_what_it_received_and_answers_on_a_real_socket(demo):
    reader, site = demo
    with running_demo_ris(host="127.0.0.1", port=0) as (ris, pointed):
        assert set(pointed) == set(DEMO_CODES)
        study = factories.held_study(reader, site=site)
        client = Client()
        client.force_login(reader.user)
        sign(client, study.id)
        outbox_drain()

        (received,) = ris.wait_for(1)
    oru = parse(received.raw)
    assert oru.first("OBR").text(18) == study.accession_number
    assert oru.first("OBR").text(25) == "F"
    assert oru.msh.raw(5) == "RIS"
    assert oru.msh.raw(6) == site.hl7_sending_facility
    assert "Ingen blødning." in [obx.text(5) for obx in oru.all("OBX")]


def test_a_demo_site_whose_ris_is_on_another_machine_is_left_alone(demo):
    _reader, site = demo
    other = Site.objects.filter(code__in=DEMO_CODES).exclude(id=site.id).first()
    SiteHl7Config.objects.create(site=site, ris_host="ris.fjordheim.example", ris_port=2575)
    SiteHl7Config.objects.create(site=other, ris_host="127.0.0.1", ris_port=9)  # a dead simulator
    factories.SiteFactory(code="notdemo", hl7_sending_facility="NOTDEMO")

    pointed = point_demo_sites_at("127.0.0.1", 4242)

    assert site.code not in pointed
    assert other.code in pointed
    assert "notdemo" not in pointed
    kept = SiteHl7Config.objects.get(site=site)
    assert (kept.ris_host, kept.ris_port) == ("ris.fjordheim.example", 2575)
    moved = SiteHl7Config.objects.get(site=other)
    assert (moved.ris_host, moved.ris_port) == ("127.0.0.1", 4242)
    assert not SiteHl7Config.objects.filter(site__code="notdemo").exists()


def test_the_ris_simulator_gives_the_site_its_endpoint_back_when_it_exits(demo):
    _reader, site = demo
    SiteHl7Config.objects.create(site=site, ris_host="127.0.0.1", ris_port=4242)
    out = StringIO()

    call_command(
        "ris_simulator", "--site", site.code, "--listen-port", "0", "--exit-after-results", "0",
        stdout=out,
    )  # fmt: skip

    printed = out.getvalue()
    assert "RIS listening for results on 127.0.0.1:" in printed
    assert "RIS endpoint of the site back to 127.0.0.1:4242" in printed
    config = SiteHl7Config.objects.get(site=site)
    assert (config.ris_host, config.ris_port) == ("127.0.0.1", 4242)
