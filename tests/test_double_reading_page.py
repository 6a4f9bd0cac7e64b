"""The reading page and the study page under double reading: the holder signs an independent
read with its result (no preliminary, no critical category, never delivered); the other read
is hidden until one's own is signed; the arbitrator sees both and signs the final as usual."""

from __future__ import annotations

import pytest
from django.urls import reverse

from hl7_interface.models import OutboundMessage
from reports.models import IndependentRead, ReportVersion
from reports.services.double_reading import independent_read_sign
from reports.services.drafts import DraftInput
from tests import factories
from tests.double_reading_support import (
    NORMAL,
    SUSPICIOUS,
    give,
    make_cast,
    screening_study,
    sign_read,
)
from worklists.models import AuditEvent, StudyStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]


def page_of(client, study, name="reading"):
    response = client.get(reverse(name, args=[study.id]))
    assert response.status_code == 200
    return response.content.decode()


def logged_in(client, user):
    client.force_login(user)
    return client


def test_the_holder_of_a_first_read_gets_the_independent_read_form(client):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)

    page = page_of(logged_in(client, cast.reader1.user), study)

    assert reverse("reading-sign-read", args=[study.id]) in page
    assert "data-screening-result" in page
    assert 'name="score_right"' in page
    assert 'name="recall"' in page
    assert "data-preliminary" not in page
    assert 'name="critical_category"' not in page
    assert 'data-stage="FIRST_READ"' in page


def test_a_study_read_once_keeps_the_normal_signing_form(client):
    cast = make_cast(is_active=False)
    study = give(screening_study(cast), cast.reader1)

    page = page_of(logged_in(client, cast.reader1.user), study)

    assert reverse("reading-sign", args=[study.id]) in page
    assert "data-screening-result" not in page
    assert "data-double-reading" not in page


def test_signing_the_read_on_the_page_records_it_and_sends_nothing(client):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)
    sections = factories.report_sections(findings="Sidetekst.")
    body = {
        "password": factories.PASSWORD,
        "score_right": "2",
        "score_left": "1",
        "recall": "no",
        "revision": "0",
        "section_count": str(len(sections)),
    }
    for i, section in enumerate(sections):
        body |= {f"sections-{i}-{k}": v for k, v in section.items()}

    response = logged_in(client, cast.reader1.user).post(
        reverse("reading-sign-read", args=[study.id]), body
    )

    assert response.status_code == 302
    read = IndependentRead.objects.get()
    assert (read.score_right, read.score_left, read.recall) == (2, 1, False)
    assert read.sections[2]["text"] == "Sidetekst."
    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert not OutboundMessage.objects.exists()
    assert not ReportVersion.objects.exists()


def test_a_missing_result_is_refused_on_the_page_keeping_the_text(client):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)

    response = logged_in(client, cast.reader1.user).post(
        reverse("reading-sign-read", args=[study.id]),
        {
            "password": factories.PASSWORD,
            "revision": "0",
            "section_count": "1",
            "sections-0-key": "findings",
            "sections-0-title": "Findings",
            "sections-0-text": "Beholdt tekst.",
        },
    )

    assert response.status_code == 400
    assert "Beholdt tekst." in response.content.decode()
    assert not IndependentRead.objects.exists()


def test_the_second_reader_sees_neither_the_first_read_nor_its_result(client):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, SUSPICIOUS, text="Hemmelig forste lesning.")
    give(study, cast.reader2)

    reader2 = logged_in(client, cast.reader2.user)
    reading = page_of(reader2, study)
    study_page = page_of(reader2, study, name="study")

    for page in (reading, study_page):
        assert "Hemmelig forste lesning." not in page
        assert 'data-reads-hidden="1"' in page
        assert "data-independent-read" not in page
        assert 'data-recall="yes"' not in page
    assert "data-screening-result" in reading  # the second read is theirs to sign


def test_the_first_reader_sees_their_own_read_only(client):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL, text="Min egen lesning.")

    page = page_of(logged_in(client, cast.reader1.user), study, name="study")

    assert "Min egen lesning." in page
    assert 'data-independent-read="1"' in page


def test_the_arbitrator_sees_both_reads_and_signs_the_final_as_usual(client):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL, text="Lesning en.")
    sign_read(study, cast.reader2, SUSPICIOUS, text="Lesning to.")
    give(study, cast.arbitrator)

    page = page_of(logged_in(client, cast.arbitrator.user), study)

    assert "Lesning en." in page
    assert "Lesning to." in page
    assert 'data-independent-read="1"' in page
    assert 'data-independent-read="2"' in page
    assert reverse("reading-sign", args=[study.id]) in page
    assert "data-screening-result" not in page
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.REPORT_VIEW, object_id=str(study.id), actor=cast.arbitrator.user
    ).exists()


def test_a_coordinator_sees_the_reads_on_the_study_page(client):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL, text="Lesning en.")

    page = page_of(logged_in(client, cast.coordinator), study, name="study")

    assert "Lesning en." in page
    assert 'data-stage="SECOND_READ"' in page


def test_the_arbitration_shows_the_two_reads_side_by_side_without_their_empty_sections(client):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL, text="Lesning en.")
    give(study, cast.reader2)
    sections = factories.report_sections(findings="Lesning to.", conclusion="")
    independent_read_sign(
        study_id=study.id,
        user=cast.reader2.user,
        password=factories.PASSWORD,
        result=SUSPICIOUS,
        draft=DraftInput(sections=sections, base_revision=0),
    )
    give(study, cast.arbitrator)

    page = page_of(logged_in(client, cast.arbitrator.user), study)

    assert "independent-reads--pair" in page
    pair = page.split("data-independent-reads", 1)[1].split('class="editor"', 1)[0]
    second = pair.split('data-independent-read="2"', 1)[1]
    assert cast.reader2.display_name in second
    assert 'data-section-key="findings"' in second
    assert 'data-section-key="conclusion"' not in second  # left empty: left out
    assert 'data-section-key="conclusion"' in pair.split('data-independent-read="2"', 1)[0]
    assert "—" not in pair
    assert 'data-score="left">4<' in second
    # the left score and the recall differ (marked in both reads), the right score does not
    assert pair.count("data-differs") == 4
    assert '<div><dt>Right breast</dt><dd data-score="right">1</dd>' in second
