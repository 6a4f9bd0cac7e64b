"""Preliminary (P) and final (F) reports: POST .../report/preliminary and .../report/sign.

Signing re-enters the password; the version stores signer, time, HPR number and a hash of the
signed content, is delivered through the outbox in the same transaction, and never changes.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from hl7_interface.models import OutboundKind, OutboundMessage
from reports.models import ReportDraft, ReportVersion, SigningFailure
from reports.services import content
from tests import factories
from worklists.models import Assignment, StudyEvent, StudyStatus

pytestmark = pytest.mark.django_db


def save_draft(client, study, revision: int = 0, **texts) -> None:
    response = client.put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(**texts), "revision": revision},
        format="json",
    )
    assert response.status_code == 200, response.content


def sign(client, study, password: str = factories.PASSWORD, **extra):
    return client.post(
        reverse("api-report-sign", args=[study.id]),
        {"password": password, **extra},
        format="json",
    )


def test_a_wrong_password_is_refused_and_nothing_is_signed(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study)

    response = sign(client, study, password="not my password")

    assert response.status_code == 403
    assert response.json()["errors"]["password"] == [
        "the password is not correct; nothing was signed"
    ]
    study.refresh_from_db()
    assert study.status == StudyStatus.IN_PROGRESS
    assert not ReportVersion.objects.filter(study=study).exists()
    assert not OutboundMessage.objects.filter(study=study).exists()
    assert ReportDraft.objects.filter(study=study).exists()
    assert Assignment.objects.filter(study=study, ended_at__isnull=True).exists()


def test_a_missing_password_is_a_field_error(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study)

    response = client.post(reverse("api-report-sign", args=[study.id]), {}, format="json")

    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert not ReportVersion.objects.filter(study=study).exists()


def test_signing_stores_signer_time_hpr_and_hash_and_owes_the_site_an_f(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study, findings="Ingen blødning.")

    response = sign(client, study)

    assert response.status_code == 201, response.content
    version = ReportVersion.objects.get(study=study)
    assert response.json()["content_hash"] == version.content_hash
    assert (version.number, version.kind, version.result_status) == (1, "FINAL", "F")
    assert version.signed_by == owner
    assert version.signer_hpr == owner.hpr_number
    assert version.password_confirmed is True
    assert version.sections[2]["text"] == "Ingen blødning."
    assert version.content_hash == content.content_hash(
        study_id=study.id,
        accession_number=study.accession_number,
        site_code=site_a.code,
        number=1,
        kind="FINAL",
        sections=version.sections,
        reason="",
        signer_hpr=owner.hpr_number,
        signed_at=version.signed_at,
        critical_category="",
    )
    study.refresh_from_db()
    assert study.status == StudyStatus.FINAL
    assert StudyEvent.objects.filter(study=study, to_status=StudyStatus.FINAL).count() == 1
    assert not Assignment.objects.filter(study=study, ended_at__isnull=True).exists()
    assert not ReportDraft.objects.filter(study=study).exists()

    message = OutboundMessage.objects.get(study=study)
    assert (message.kind, message.result_status, message.status) == (
        OutboundKind.REPORT,
        "F",
        "PENDING",
    )
    assert message.content["report_version_id"] == version.id
    assert message.content["signed_by_hpr"] == owner.hpr_number
    assert message.content["sections"][2] == {"title": "Findings", "text": "Ingen blødning."}


def test_the_sections_on_screen_are_signed_even_if_autosave_had_not_caught_up(
    owner, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study, findings="Utkast")

    response = sign(
        client,
        study,
        sections=factories.report_sections(findings="Endelig tekst"),
        revision=1,
    )

    assert response.status_code == 201
    assert ReportVersion.objects.get(study=study).sections[2]["text"] == "Endelig tekst"


def test_an_empty_report_cannot_be_signed(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    blank = [{"key": "findings", "title": "Findings", "text": "   "}]

    response = sign(client, study, sections=blank, revision=0)

    assert response.status_code == 400
    assert "empty" in response.json()["errors"]["sections"][0]
    assert not ReportVersion.objects.exists()


def test_a_preliminary_is_issued_as_p_and_the_final_follows_as_f(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study, findings="Foreløpig: ingen blødning.")

    response = client.post(reverse("api-report-preliminary", args=[study.id]), {}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["result_status"] == "P"
    study.refresh_from_db()
    assert study.status == StudyStatus.PRELIMINARY
    preliminary = ReportVersion.objects.get(study=study)
    assert (preliminary.kind, preliminary.password_confirmed) == ("PRELIMINARY", False)
    assert OutboundMessage.objects.get(study=study).result_status == "P"
    # The reader keeps writing from the same draft.
    assert ReportDraft.objects.get(study=study).revision == 1

    save_draft(client, study, revision=1, findings="Ingen blødning. Ingen fraktur.")
    final = sign(client, study)

    assert final.status_code == 201
    assert [(v.number, v.kind) for v in ReportVersion.objects.filter(study=study)] == [
        (1, "PRELIMINARY"),
        (2, "FINAL"),
    ]
    assert [m.result_status for m in OutboundMessage.objects.filter(study=study)] == ["P", "F"]
    study.refresh_from_db()
    assert study.status == StudyStatus.FINAL


def test_a_second_preliminary_is_refused(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study)
    client.post(reverse("api-report-preliminary", args=[study.id]), {}, format="json")

    again = client.post(reverse("api-report-preliminary", args=[study.id]), {}, format="json")

    assert again.status_code == 409
    assert ReportVersion.objects.filter(study=study).count() == 1


def test_a_signed_report_cannot_be_drafted_over_or_signed_again(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study)
    sign(client, study)

    redraft = client.put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(findings="Endret"), "revision": 0},
        format="json",
    )
    resign = sign(client, study, sections=factories.report_sections(findings="x"), revision=0)

    # The signer no longer holds a signed study: both are refused, the version is unchanged.
    assert redraft.status_code == 403
    assert resign.status_code == 403
    version = ReportVersion.objects.get(study=study)
    assert version.sections[2]["text"] == "Ingen blødning."


def test_the_database_refuses_to_change_a_signed_version(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study)
    sign(client, study)
    version = ReportVersion.objects.get(study=study)

    with pytest.raises(DatabaseError), transaction.atomic():
        ReportVersion.objects.filter(id=version.id).update(
            sections=[{"key": "findings", "title": "Findings", "text": "forfalsket"}]
        )
    version.signer_hpr = "1234567"
    with pytest.raises(DatabaseError), transaction.atomic():
        version.save(update_fields=["signer_hpr"])

    version.refresh_from_db()
    assert version.signer_hpr == owner.hpr_number
    assert version.sections[2]["text"] == "Ingen blødning."


def test_a_wrong_password_is_kept_on_record(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study)

    sign(client, study, password="gjetning")

    (failure,) = SigningFailure.objects.all()
    assert (failure.user, failure.study_id) == (owner.user, study.id)


def test_too_many_wrong_passwords_lock_signing_for_a_while(owner, site_a, client_for, settings):
    settings.REPORTS_SIGN_MAX_FAILURES = 3
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study)
    for guess in ("a", "b", "c"):
        assert sign(client, study, password=guess).status_code == 403

    locked = sign(client, study)

    assert locked.status_code == 403
    assert "signing is locked" in locked.json()["errors"]["password"][0]
    assert not ReportVersion.objects.filter(study=study).exists()

    SigningFailure.objects.update(
        at=timezone.now() - dt.timedelta(minutes=settings.REPORTS_SIGN_LOCKOUT_MINUTES + 1)
    )
    assert sign(client, study).status_code == 201


def test_postgresql_refuses_to_delete_a_signed_version(owner, site_a, client_for):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite guards deletion with the foreign keys only (see migration 0004)")
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    save_draft(client, study)
    sign(client, study)

    with pytest.raises(DatabaseError), transaction.atomic():
        ReportVersion.objects.filter(study=study).delete()

    assert ReportVersion.objects.filter(study=study).count() == 1
