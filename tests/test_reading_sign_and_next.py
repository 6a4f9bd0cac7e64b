""" "Sign and next" on the reading page: signing, issuing a preliminary or returning a referral
with ``then=next`` opens the next study by the read-next rule, claimed for the reader; with
nothing left the reader lands on the worklist, told so. Also "Read next" from the reading page
(POST /read/next)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from hl7_interface.models import OutboundMessage
from reports.models import CriticalFinding, ReferralRejection, ReportVersion
from reports.views import NOTHING_LEFT
from tests import factories
from worklists.models import Assignment, StudyEvent, StudyStatus
from worklists.services.routing import forget_coverage_cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_coverage():
    forget_coverage_cache()


@pytest.fixture
def reader(owner, neuro):
    factories.shift(owner, worklists=(neuro,))
    return owner


@pytest.fixture
def current(reader, site_a, neuro):
    """The study the reader holds and is reading now."""
    return factories.held_study(reader, site=site_a, worklist=neuro, procedure_text="CT caput")


def form(**extra: object) -> dict[str, object]:
    sections = factories.report_sections(findings="Ingen blødning.")
    data: dict[str, object] = {"section_count": len(sections), "revision": 0, **extra}
    for index, section in enumerate(sections):
        data[f"sections-{index}-key"] = section["key"]
        data[f"sections-{index}-title"] = section["title"]
        data[f"sections-{index}-text"] = section["text"]
    return data


def held_by(study, radiologist) -> bool:
    return Assignment.objects.filter(
        study=study, radiologist=radiologist, ended_at__isnull=True
    ).exists()


def test_sign_and_next_signs_then_claims_and_opens_the_most_urgent_study(
    reader, current, site_a, neuro, client
):
    routine = factories.ready_study(site_a, neuro, priority="ROUTINE")
    stat = factories.ready_study(site_a, neuro, priority="STAT")
    client.force_login(reader.user)

    response = client.post(
        reverse("reading-sign", args=[current.id]),
        form(password=factories.PASSWORD, then="next"),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("reading", args=[stat.id])
    current.refresh_from_db()
    assert current.status == StudyStatus.FINAL
    assert ReportVersion.objects.get(study=current).kind == "FINAL"
    assert OutboundMessage.objects.get(study=current).result_status == "F"
    stat.refresh_from_db()
    routine.refresh_from_db()
    assert stat.status == StudyStatus.ASSIGNED
    assert held_by(stat, reader)
    assert routine.status == StudyStatus.READY
    event = StudyEvent.objects.get(study=stat, to_status=StudyStatus.ASSIGNED)
    assert (event.from_status, event.reason, event.actor_id) == (
        StudyStatus.READY,
        "read next",
        reader.user.id,
    )

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert f"CT caput ({site_a.code} {current.accession_number}): Report signed" in html


def test_sign_and_next_with_nothing_left_lands_on_the_worklist_and_says_so(reader, current, client):
    client.force_login(reader.user)

    response = client.post(
        reverse("reading-sign", args=[current.id]),
        form(password=factories.PASSWORD, then="next"),
        follow=True,
    )

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("worklist")
    html = response.content.decode()
    assert NOTHING_LEFT in html
    assert "Report signed and marked for delivery (F)." in html
    current.refresh_from_db()
    assert current.status == StudyStatus.FINAL


def test_sign_without_next_stays_on_the_study_and_claims_nothing(
    reader, current, site_a, neuro, client
):
    waiting = factories.ready_study(site_a, neuro)
    client.force_login(reader.user)

    response = client.post(
        reverse("reading-sign", args=[current.id]), form(password=factories.PASSWORD)
    )

    assert response["Location"] == reverse("reading", args=[current.id])
    waiting.refresh_from_db()
    assert waiting.status == StudyStatus.READY
    assert not Assignment.objects.filter(study=waiting).exists()


def test_a_wrong_password_with_sign_and_next_signs_nothing_and_claims_nothing(
    reader, current, site_a, neuro, client
):
    waiting = factories.ready_study(site_a, neuro)
    client.force_login(reader.user)

    response = client.post(
        reverse("reading-sign", args=[current.id]), form(password="feil", then="next")
    )

    assert response.status_code == 403
    assert not ReportVersion.objects.filter(study=current).exists()
    waiting.refresh_from_db()
    assert waiting.status == StudyStatus.READY
    assert not Assignment.objects.filter(study=waiting).exists()


def test_a_critical_finding_keeps_the_reader_on_the_study_to_record_its_communication(
    reader, current, site_a, neuro, client
):
    waiting = factories.ready_study(site_a, neuro)
    client.force_login(reader.user)

    response = client.post(
        reverse("reading-sign", args=[current.id]),
        form(password=factories.PASSWORD, critical_category="RED", then="next"),
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("reading", args=[current.id])
    assert "record its communication here before you go on" in response.content.decode()
    assert CriticalFinding.objects.get(study=current).communicated_at is None
    waiting.refresh_from_db()
    assert waiting.status == StudyStatus.READY


def test_preliminary_and_next_keeps_the_study_and_opens_the_next(
    reader, current, site_a, neuro, client
):
    following = factories.ready_study(site_a, neuro)
    client.force_login(reader.user)

    response = client.post(reverse("reading-preliminary", args=[current.id]), form(then="next"))

    assert response["Location"] == reverse("reading", args=[following.id])
    current.refresh_from_db()
    assert current.status == StudyStatus.PRELIMINARY
    assert held_by(current, reader)  # the final report is still theirs to write
    assert OutboundMessage.objects.get(study=current).result_status == "P"
    assert held_by(following, reader)


def test_return_and_next_returns_the_referral_and_opens_the_next(
    reader, current, site_a, neuro, client
):
    following = factories.ready_study(site_a, neuro)
    client.force_login(reader.user)

    response = client.post(
        reverse("reading-reject", args=[current.id]),
        {"reason": "NOT_INDICATED", "comment": "MR er bedre egnet", "then": "next"},
    )

    assert response["Location"] == reverse("reading", args=[following.id])
    current.refresh_from_db()
    assert current.status == StudyStatus.REJECTED
    assert ReferralRejection.objects.get(study=current).reason == "NOT_INDICATED"
    assert held_by(following, reader)


def test_a_study_waiting_in_the_readers_own_queue_is_next_when_nothing_is_free(
    reader, current, site_a, neuro, client
):
    pushed = factories.held_study(reader, site=site_a, worklist=neuro)
    client.force_login(reader.user)

    response = client.post(
        reverse("reading-sign", args=[current.id]),
        form(password=factories.PASSWORD, then="next"),
    )

    assert response["Location"] == reverse("reading", args=[pushed.id])
    assert Assignment.objects.filter(study=pushed).count() == 1  # opened, not claimed again


def test_sign_and_next_never_opens_a_study_of_a_site_the_reader_may_not_read(
    reader, current, site_b, neuro, client
):
    elsewhere = factories.ready_study(site_b, neuro)
    client.force_login(reader.user)

    response = client.post(
        reverse("reading-sign", args=[current.id]),
        form(password=factories.PASSWORD, then="next"),
    )

    assert response["Location"] == reverse("worklist")
    elsewhere.refresh_from_db()
    assert elsewhere.status == StudyStatus.READY


def test_read_next_from_the_reading_page_claims_and_opens_the_next_study(
    reader, site_a, neuro, client
):
    study = factories.ready_study(site_a, neuro)
    client.force_login(reader.user)

    response = client.post(reverse("reading-next"))

    assert response.status_code == 302
    assert response["Location"] == reverse("reading", args=[study.id])
    assert held_by(study, reader)


def test_read_next_with_nothing_to_read_lands_on_the_worklist(reader, client):
    client.force_login(reader.user)

    response = client.post(reverse("reading-next"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("worklist")
    assert NOTHING_LEFT in response.content.decode()


def test_read_next_claims_nothing_for_a_site_user_or_anonymous(site_user, site_a, neuro, client):
    study = factories.ready_study(site_a, neuro)

    anonymous = client.post(reverse("reading-next"))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    client.force_login(site_user)
    assert client.post(reverse("reading-next"))["Location"] == reverse("worklist")
    assert client.get(reverse("reading-next")).status_code == 405
    assert not Assignment.objects.filter(study=study).exists()


def test_another_radiologist_cannot_sign_and_go_on_from_a_study_they_do_not_hold(
    reader, current, other_radiologist, site_a, neuro, client
):
    factories.shift(other_radiologist, worklists=(neuro,))
    waiting = factories.ready_study(site_a, neuro)
    client.force_login(other_radiologist.user)

    response = client.post(
        reverse("reading-sign", args=[current.id]),
        form(password=factories.PASSWORD, then="next"),
    )

    assert response.status_code == 403
    current.refresh_from_db()
    assert current.status == StudyStatus.ASSIGNED
    assert not Assignment.objects.filter(study=waiting).exists()


def test_the_reading_page_offers_sign_and_next_as_the_default_action(reader, current, client):
    client.force_login(reader.user)

    html = client.get(reverse("reading", args=[current.id])).content.decode()

    buttons = html[html.index('class="editor__actions"') :]
    assert buttons.index("data-sign-next") < buttons.index("data-sign>")
    assert 'name="then" value="next" data-sign-next' in html
    assert "data-preliminary-next" in html
    assert "data-read-next-form" in html
    assert "js/reading-keys.js" in html


def test_read_next_from_a_study_not_yet_written_in_never_opens_that_study_again(
    reader, current, site_a, neuro, client
):
    waiting = factories.held_study(reader, site=site_a, worklist=neuro, priority="ROUTINE")
    client.force_login(reader.user)

    response = client.post(reverse("reading-next"), {"after": current.id})

    assert response["Location"] == reverse("reading", args=[waiting.id])
    assert held_by(current, reader)  # still the reader's; read next does not give it away
    waiting.delete()
    assert client.post(reverse("reading-next"), {"after": current.id})["Location"] == reverse(
        "worklist"
    )
