"""The double-reading API: GET /api/v1/studies/{id}/double-reading (the reads as the caller
may see them: blind until their own is signed), POST .../double-reading/reads (sign an
independent read with its result), and the report API's draft, blinded while double read."""

from __future__ import annotations

import pytest
from django.urls import reverse

from hl7_interface.models import OutboundMessage
from reports.models import DoubleRead, DoubleReadStage, IndependentRead, ReportVersion
from tests import factories
from tests.double_reading_support import (
    NORMAL,
    SUSPICIOUS,
    Cast,
    give,
    make_cast,
    screening_study,
    sign_final,
    sign_read,
)
from worklists.models import AuditEvent, Study, StudyStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]


def reads_of(client, study: Study):
    response = client.get(reverse("api-double-reading", args=[study.id]))
    assert response.status_code == 200, response.content
    return response.json()


def sign_via_api(client, study: Study, **result):
    body = {
        "password": factories.PASSWORD,
        "sections": factories.report_sections(findings="Via API.", conclusion="Via API."),
        "revision": 0,
        "score_right": 1,
        "score_left": 1,
        "recall": False,
        **result,
    }
    return client.post(reverse("api-independent-read-sign", args=[study.id]), body, format="json")


def test_the_holder_signs_an_independent_read_with_its_result(client_for):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)

    response = sign_via_api(client_for(cast.reader1.user), study, score_left=3, recall=True)

    assert response.status_code == 201, response.content
    assert response.json()["number"] == 1
    assert response.json()["stage"] == DoubleReadStage.SECOND_READ
    read = IndependentRead.objects.get()
    assert (read.score_right, read.score_left, read.recall) == (1, 3, True)
    assert read.sections[2]["text"] == "Via API."
    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert not OutboundMessage.objects.filter(study=study).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"score_right": 6}, "score_right"),
        ({"recall": "maybe"}, "recall"),
        ({"password": ""}, "password"),
    ],
)
def test_a_bad_result_is_a_400_naming_its_field_and_signs_nothing(client_for, change, field):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)

    response = sign_via_api(client_for(cast.reader1.user), study, **change)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not IndependentRead.objects.exists()


def test_a_wrong_password_is_a_403_and_signs_nothing(client_for):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)

    response = sign_via_api(client_for(cast.reader1.user), study, password="wrong")

    assert response.status_code == 403
    assert not IndependentRead.objects.exists()


def test_only_the_holder_signs_and_a_study_out_of_scope_is_a_404(client_for):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)
    stranger = factories.RadiologistFactory.create(user__username="stranger")

    assert sign_via_api(client_for(cast.reader2.user), study).status_code == 403
    assert sign_via_api(client_for(stranger.user), study).status_code == 404
    assert not IndependentRead.objects.exists()


def test_a_study_read_once_refuses_an_independent_read_with_409(client_for):
    cast = make_cast(is_active=False)
    study = give(screening_study(cast), cast.reader1)

    response = sign_via_api(client_for(cast.reader1.user), study)

    assert response.status_code == 409
    assert not DoubleRead.objects.exists()


def test_the_normal_sign_endpoint_refuses_an_independent_read_with_409(client_for):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)

    response = client_for(cast.reader1.user).post(
        reverse("api-report-sign", args=[study.id]),
        {"password": factories.PASSWORD, "sections": factories.report_sections(), "revision": 0},
        format="json",
    )

    assert response.status_code == 409
    assert not ReportVersion.objects.filter(study=study).exists()
    assert not OutboundMessage.objects.exists()


def second_read_open(cast: Cast) -> Study:
    """Read 1 signed by reader 1 (normal), read 2 in reader 2's hands with a draft."""
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL, text="Forste lesers tekst.")
    give(study, cast.reader2)
    return study


def test_the_second_reader_sees_no_first_read_before_signing_their_own(client_for):
    cast = make_cast()
    study = second_read_open(cast)

    body = reads_of(client_for(cast.reader2.user), study)

    assert body["stage"] == DoubleReadStage.SECOND_READ
    assert body["reads"] == []
    assert body["hidden_reads"] == 1
    assert "Forste lesers tekst" not in str(body)


def test_no_other_reader_sees_the_first_read_while_the_second_is_open(client_for):
    cast = make_cast()
    study = second_read_open(cast)

    for reader in (cast.reader_b, cast.arbitrator):
        body = reads_of(client_for(reader.user), study)
        assert body["reads"] == []
        assert body["hidden_reads"] == 1


def test_the_first_reader_sees_only_their_own_read_and_not_the_second_draft(client_for):
    cast = make_cast()
    study = second_read_open(cast)
    reader2 = client_for(cast.reader2.user)
    saved = reader2.put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(findings="Andre lesers utkast."), "revision": 0},
        format="json",
    )
    assert saved.status_code == 200
    reader1 = client_for(cast.reader1.user)

    body = reads_of(reader1, study)
    report = reader1.get(reverse("api-report", args=[study.id])).json()

    assert [r["number"] for r in body["reads"]] == [1]
    assert body["own_read_number"] == 1
    assert body["reads"][0]["result"] == {"score_right": 1, "score_left": 1, "recall": False}
    assert "Andre lesers utkast" not in str(report)
    # the holder reads their own draft
    own = reader2.get(reverse("api-report", args=[study.id])).json()
    assert "Andre lesers utkast" in str(own)


def test_the_first_draft_is_blind_to_other_readers_before_it_is_signed(client_for):
    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)
    client_for(cast.reader1.user).put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(findings="Forste utkast."), "revision": 0},
        format="json",
    )

    report = client_for(cast.reader2.user).get(reverse("api-report", args=[study.id])).json()
    coordinator = client_for(cast.coordinator).get(reverse("api-report", args=[study.id])).json()

    assert "Forste utkast" not in str(report)
    assert "Forste utkast" in str(coordinator)


def test_a_coordinator_sees_both_reads_and_the_arbitrator_sees_both(client_for):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)
    give(study, cast.arbitrator)

    for user in (cast.arbitrator.user, cast.coordinator, cast.reader1.user, cast.reader2.user):
        body = reads_of(client_for(user), study)
        assert body["stage"] == DoubleReadStage.ARBITRATION
        assert [r["number"] for r in body["reads"]] == [1, 2]
        assert body["hidden_reads"] == 0
    assert (
        AuditEvent.objects.filter(
            action=AuditEvent.Action.REPORT_VIEW, object_id=str(study.id)
        ).count()
        == 4
    )


def test_after_the_final_the_reads_and_the_final_are_named(client_for):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)
    sign_final(study, cast.arbitrator)

    body = reads_of(client_for(cast.reader_b.user), study)

    assert body["stage"] == DoubleReadStage.ARBITRATED
    assert body["arbitrator_id"] == cast.arbitrator.id
    assert body["final_version_number"] == 1
    assert len(body["reads"]) == 2


def test_a_study_out_of_scope_is_a_404_and_audited_as_refused(client_for):
    cast = make_cast()
    study = screening_study(cast)
    stranger = factories.RadiologistFactory.create(user__username="stranger")

    response = client_for(stranger.user).get(reverse("api-double-reading", args=[study.id]))

    assert response.status_code == 404


def test_the_endpoints_are_in_the_openapi_schema(client_for):
    cast = make_cast()
    schema = client_for(cast.coordinator).get("/api/schema/").content.decode()

    assert "/api/v1/studies/{study_id}/double-reading" in schema
    assert "/api/v1/studies/{study_id}/double-reading/reads" in schema
    assert "/api/v1/indicators/double-reading" in schema
