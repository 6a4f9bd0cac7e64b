"""The console's lists of what went wrong: unclassified studies (the core's) and dead-lettered
deliveries with their last error and a re-send (the HL7 adapter's panel, through the hooks).
The re-send is a coordinator's action; the outbox then delivers to a real RIS peer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from demo_ris.receiver import ResultReceiver
from hl7_interface.delivery import DEAD_LETTER_ALERT, outbox_drain
from hl7_interface.models import OutboundMessage, SiteHl7Config
from hl7_interface.outbox import ReportDelivery, ReportSection, outbox_enqueue_report
from tests import factories
from tests.hl7_support import hl7_site
from worklists.hooks import console_panels
from worklists.models import AuditEvent, CoordinatorAlert, CoordinatorAlertEvent
from worklists.services.alerts import alert_raise

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = (hl7_site,)


def _enqueue(study) -> OutboundMessage:
    return outbox_enqueue_report(
        study_id=study.id,
        delivery=ReportDelivery(
            report_version_id=1,
            version_number=1,
            result_status="F",
            sections=(ReportSection("Konklusjon", "Normal CT caput."),),
            signed_by_name="Kari Nordmann",
            signed_by_hpr="9123456",
            signed_at=timezone.now(),
        ),
    )


def _dead_letter(study, error: str = "cannot connect to 127.0.0.1:9: refused") -> OutboundMessage:
    with transaction.atomic():
        row = _enqueue(study)
    OutboundMessage.objects.filter(id=row.id).update(
        status="DEAD",
        attempts=12,
        next_attempt_at=None,
        last_error=error,
        last_attempt_at=timezone.now() - dt.timedelta(minutes=5),
    )
    alert_raise(
        kind=DEAD_LETTER_ALERT,
        study_id=study.id,
        message=f"Result delivery to the site's RIS failed 12 times: {error}",
        data={"outbound_message_id": row.id},
    )
    return row


@pytest.fixture
def ris(hl7_site):
    with ResultReceiver() as receiver:
        SiteHl7Config.objects.filter(site=hl7_site).update(
            ris_host=receiver.host, ris_port=receiver.port
        )
        yield receiver


def test_the_hl7_adapter_plugs_its_panel_into_the_console():
    assert "dead-letters" in [panel.name for panel in console_panels()]


def test_the_console_lists_dead_letters_with_their_last_error_and_audits_them(
    hl7_site, coordinator, client
):
    study = factories.StudyFactory(site=hl7_site, accession_number="ACC-DEAD")
    row = _dead_letter(study)
    client.force_login(coordinator)

    html = client.get(reverse("console")).content.decode()

    assert f'data-dead-letter-id="{row.id}"' in html
    assert "cannot connect to 127.0.0.1:9: refused" in html
    assert reverse("hl7-dead-letter-resend", args=[row.id]) in html
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.STUDY_LIST, object_id=str(study.id), actor=coordinator
    ).exists()


def test_a_coordinators_resend_puts_it_back_to_pending_closes_the_alert_and_the_ris_gets_it(
    ris, hl7_site, coordinator, client
):
    study = factories.StudyFactory(site=hl7_site)
    row = _dead_letter(study)
    client.force_login(coordinator)

    answer = client.post(reverse("hl7-dead-letter-resend", args=[row.id]), HTTP_HX_REQUEST="true")

    assert answer.status_code == 200
    html = answer.content.decode()
    assert "queued to be sent again" in html
    assert f'data-dead-letter-id="{row.id}"' not in html  # the console's region, up to date
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("PENDING", 0)
    assert "re-send requested by coord" in row.last_error
    alert = CoordinatorAlert.objects.get(kind=DEAD_LETTER_ALERT, study=study)
    assert alert.resolved_at is not None
    assert alert.resolved_by_id == coordinator.id
    assert CoordinatorAlertEvent.objects.filter(
        alert=alert, action=CoordinatorAlertEvent.Action.RESOLVED, actor=coordinator
    ).exists()

    assert outbox_drain() == {row.id: "DELIVERED"}
    assert len(ris.wait_for(1)) == 1


def test_a_second_resend_is_refused_and_changes_nothing(hl7_site, coordinator, client):
    study = factories.StudyFactory(site=hl7_site)
    row = _dead_letter(study)
    client.force_login(coordinator)
    url = reverse("hl7-dead-letter-resend", args=[row.id])
    client.post(url, HTTP_HX_REQUEST="true")

    again = client.post(url, HTTP_HX_REQUEST="true")

    assert "not dead-lettered" in again.content.decode()
    row.refresh_from_db()
    assert row.status == "PENDING"


def test_only_coordinators_resend(hl7_site, owner, site_user, client):
    study = factories.StudyFactory(site=hl7_site)
    row = _dead_letter(study)
    url = reverse("hl7-dead-letter-resend", args=[row.id])
    for user in (owner.user, site_user):
        client.force_login(user)
        assert client.post(url).status_code == 403
    row.refresh_from_db()
    assert row.status == "DEAD"
    assert CoordinatorAlert.objects.get(kind=DEAD_LETTER_ALERT, study=study).resolved_at is None


def test_the_alert_stays_open_while_another_delivery_of_the_study_is_dead(
    hl7_site, coordinator, client
):
    study = factories.StudyFactory(site=hl7_site)
    first = _dead_letter(study)
    _dead_letter(study)
    client.force_login(coordinator)

    client.post(reverse("hl7-dead-letter-resend", args=[first.id]))

    assert CoordinatorAlert.objects.get(kind=DEAD_LETTER_ALERT, study=study).resolved_at is None


def test_unread_unclassified_studies_are_listed_and_classified_ones_are_not(
    site_a, neuro, general_worklist, coordinator, client
):
    lost = factories.ready_study(
        site_a, general_worklist, is_unclassified=True, accession_number="ACC-LOST"
    )
    factories.ready_study(site_a, neuro, accession_number="ACC-FOUND")
    client.force_login(coordinator)

    html = client.get(reverse("console")).content.decode()

    assert f'data-unclassified-study-id="{lost.id}"' in html
    assert "ACC-FOUND" not in html.split('id="console-unclassified"')[1].split("</section>")[0]
    assert reverse("console-candidates", args=[lost.id]) in html
