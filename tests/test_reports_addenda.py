"""Addenda and corrections: POST .../report/addenda makes a new signed version, delivered as C."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from hl7_interface.models import OutboundMessage
from reports.models import ReportVersion
from reports.services import content
from tests import factories
from worklists.models import Radiologist, Site, Study, StudyStatus

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


@pytest.mark.parametrize(
    ("server_zone", "site_zone", "site_date"),
    [
        # 23:30 UTC is already tomorrow in Oslo: the site's date, not the server's.
        ("UTC", "Europe/Oslo", 1),
        ("Europe/Oslo", "UTC", 0),
    ],
)
def test_the_addendum_title_carries_the_sites_date_at_signing(
    owner: Radiologist,
    signed: Study,
    site_a: Site,
    client_for: Callable[[AbstractBaseUser], APIClient],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    server_zone: str,
    site_zone: str,
    site_date: int,
) -> None:
    settings.TIME_ZONE = server_zone
    Site.objects.filter(id=site_a.id).update(time_zone=site_zone)
    tomorrow = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=1)
    moment = dt.datetime.combine(tomorrow, dt.time(23, 30), tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)

    response = amend(
        client_for(owner.user), signed, kind="ADDENDUM", reason="Tillegg", text="Sett igjen."
    )

    assert response.status_code == 201, response.content
    addendum = ReportVersion.objects.get(study=signed, number=2)
    expected = tomorrow + dt.timedelta(days=site_date)
    assert addendum.sections[-1]["title"] == f"Addendum ({expected:%d.%m.%Y})"
    assert addendum.signed_at == moment
    # The title is signed: the stored hash is that of exactly this content.
    assert addendum.content_hash == content.content_hash(
        study_id=signed.id,
        accession_number=signed.accession_number,
        site_code=site_a.code,
        number=2,
        kind="ADDENDUM",
        sections=addendum.sections,
        reason="Tillegg",
        signer_hpr=owner.hpr_number,
        signed_at=moment,
        critical_category="",
    )
