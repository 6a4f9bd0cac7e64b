"""Addenda and corrections: POST .../report/addenda makes a new signed version, delivered as C."""

from __future__ import annotations

import pytest
from django.urls import reverse

from hl7_interface.models import OutboundMessage
from reports.models import ReportVersion
from tests import factories
from worklists.models import StudyStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    client.put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(), "revision": 0},
        format="json",
    )
    response = client.post(
        reverse("api-report-sign", args=[study.id]), {"password": factories.PASSWORD}
    )
    assert response.status_code == 201
    return study


def amend(client, study, **body):
    payload = {"password": factories.PASSWORD, **body}
    return client.post(reverse("api-report-addenda", args=[study.id]), payload, format="json")


def test_an_addendum_is_a_new_version_with_its_reason_delivered_as_c(owner, signed, client_for):
    response = amend(
        client_for(owner.user),
        signed,
        kind="ADDENDUM",
        reason="Sammenlignet med CT fra Bravo",
        text="Uendret fra forrige undersøkelse.",
    )

    assert response.status_code == 201, response.content
    assert response.json()["result_status"] == "C"
    final, addendum = ReportVersion.objects.filter(study=signed).order_by("number")
    assert (addendum.number, addendum.kind) == (2, "ADDENDUM")
    assert addendum.reason == "Sammenlignet med CT fra Bravo"
    assert addendum.password_confirmed is True
    assert addendum.sections[: len(final.sections)] == final.sections
    assert addendum.sections[-1]["text"] == "Uendret fra forrige undersøkelse."
    assert addendum.content_hash != final.content_hash
    messages = list(OutboundMessage.objects.filter(study=signed).order_by("id"))
    assert [m.result_status for m in messages] == ["F", "C"]
    assert messages[1].content["correction_reason"] == "Sammenlignet med CT fra Bravo"
    assert messages[1].content["version_number"] == 2
    # The final stays exactly as signed; the study stays FINAL.
    assert ReportVersion.objects.get(id=final.id).sections == final.sections
    signed.refresh_from_db()
    assert signed.status == StudyStatus.FINAL


def test_a_correction_replaces_the_sections_and_is_delivered_as_c(owner, signed, client_for):
    corrected = factories.report_sections(conclusion="Liten subdural blødning venstre side.")

    response = amend(
        client_for(owner.user),
        signed,
        kind="CORRECTION",
        reason="Oversett blødning",
        sections=corrected,
    )

    assert response.status_code == 201, response.content
    version = ReportVersion.objects.get(study=signed, number=2)
    assert version.kind == "CORRECTION"
    assert version.sections[3]["text"] == "Liten subdural blødning venstre side."
    assert OutboundMessage.objects.filter(study=signed).last().result_status == "C"


def test_versions_keep_counting_across_amendments(owner, signed, client_for):
    client = client_for(owner.user)
    amend(client, signed, kind="ADDENDUM", reason="a", text="Første tillegg.")
    amend(client, signed, kind="ADDENDUM", reason="b", text="Andre tillegg.")

    versions = list(ReportVersion.objects.filter(study=signed).order_by("number"))
    assert [(v.number, v.kind) for v in versions] == [
        (1, "FINAL"),
        (2, "ADDENDUM"),
        (3, "ADDENDUM"),
    ]
    assert [s["text"] for s in versions[2].sections[-2:]] == ["Første tillegg.", "Andre tillegg."]


def test_an_amendment_needs_a_reason(owner, signed, client_for):
    response = amend(client_for(owner.user), signed, kind="ADDENDUM", reason=" ", text="x")

    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert ReportVersion.objects.filter(study=signed).count() == 1


def test_a_correction_that_changes_nothing_is_refused(owner, signed, client_for):
    response = amend(
        client_for(owner.user),
        signed,
        kind="CORRECTION",
        reason="ingen",
        sections=factories.report_sections(),
    )

    assert response.status_code == 400
    assert ReportVersion.objects.filter(study=signed).count() == 1


def test_an_amendment_with_a_wrong_password_signs_nothing(owner, signed, client_for):
    response = amend(
        client_for(owner.user),
        signed,
        kind="ADDENDUM",
        reason="x",
        text="y",
        password="feil passord",
    )

    assert response.status_code == 403
    assert "password" in response.json()["errors"]
    assert ReportVersion.objects.filter(study=signed).count() == 1
    assert OutboundMessage.objects.filter(study=signed).count() == 1


def test_only_the_signer_amends_a_final_report(other_radiologist, coordinator, signed, client_for):
    for user in (other_radiologist.user, coordinator):
        response = amend(client_for(user), signed, kind="ADDENDUM", reason="x", text="y")
        assert response.status_code == 403
    assert ReportVersion.objects.filter(study=signed).count() == 1


def test_an_unsigned_report_cannot_be_amended(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)

    response = amend(client_for(owner.user), study, kind="ADDENDUM", reason="x", text="y")

    assert response.status_code == 409
    assert not ReportVersion.objects.filter(study=study).exists()
