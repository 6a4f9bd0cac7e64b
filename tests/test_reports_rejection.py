"""Returning a referral: POST /api/v1/studies/{id}/reject with a coded reason; the site is told
through the outbox (ORC-1 OC); rejections are counted per site and reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from hl7_interface.models import OutboundKind, OutboundMessage
from reports.models import ReferralRejection, RejectionReason
from tests import factories
from worklists.models import Assignment, StudyEvent, StudyStatus

pytestmark = pytest.mark.django_db


def reject(client, study, reason, comment=""):
    return client.post(
        reverse("api-study-reject", args=[study.id]),
        {"reason": reason, "comment": comment},
        format="json",
    )


@pytest.mark.parametrize("reason", RejectionReason.values)
def test_each_reason_rejects_the_study_and_owes_the_site_a_cancellation(
    reason, owner, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)

    response = reject(client_for(owner.user), study, reason, comment="Se retningslinje 4.2")

    assert response.status_code == 201, response.content
    assert response.json()["reason"] == reason
    study.refresh_from_db()
    assert study.status == StudyStatus.REJECTED
    rejection = ReferralRejection.objects.get(study=study)
    assert (rejection.reason, rejection.site_id) == (reason, site_a.id)
    assert rejection.rejected_by == owner
    event = StudyEvent.objects.get(study=study, to_status=StudyStatus.REJECTED)
    assert str(RejectionReason(reason).label) in event.reason
    assert not Assignment.objects.filter(study=study, ended_at__isnull=True).exists()

    message = OutboundMessage.objects.get(study=study)
    assert message.kind == OutboundKind.ORDER_REJECTION
    assert message.content["reason_code"] == reason
    assert message.content["reason_text"] == RejectionReason(reason).label
    assert message.content["comment"] == "Se retningslinje 4.2"
    assert message.content["rejected_by_hpr"] == owner.hpr_number


def test_other_needs_a_comment(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)

    response = reject(client_for(owner.user), study, "OTHER")

    assert response.status_code == 400
    assert "comment" in response.json()["errors"]
    study.refresh_from_db()
    assert study.status == StudyStatus.ASSIGNED
    assert not OutboundMessage.objects.exists()


def test_an_unknown_reason_is_a_field_error(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)

    response = reject(client_for(owner.user), study, "BORING")

    assert response.status_code == 400
    assert "reason" in response.json()["errors"]


def test_only_the_holder_returns_a_referral(
    owner, other_radiologist, coordinator, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)

    for user in (other_radiologist.user, coordinator):
        assert reject(client_for(user), study, "DUPLICATE").status_code == 403
    study.refresh_from_db()
    assert study.status == StudyStatus.ASSIGNED
    assert not ReferralRejection.objects.exists()


def test_a_signed_study_cannot_be_returned(owner, site_a, client_for):
    study = factories.held_study(owner, site=site_a)
    client = client_for(owner.user)
    client.put(
        reverse("api-report", args=[study.id]),
        {"sections": factories.report_sections(), "revision": 0},
        format="json",
    )
    client.post(reverse("api-report-preliminary", args=[study.id]), {}, format="json")

    response = reject(client, study, "DUPLICATE")

    assert response.status_code == 409
    assert not ReferralRejection.objects.exists()


def test_rejections_are_counted_per_site_and_reason(
    owner, outsider, site_a, site_b, coordinator, client_for
):
    factories.credential(owner, site_b)
    for site, reason in [
        (site_a, "NOT_INDICATED"),
        (site_a, "NOT_INDICATED"),
        (site_a, "DUPLICATE"),
        (site_b, "NOT_INDICATED"),
    ]:
        study = factories.held_study(owner, site=site)
        assert reject(client_for(owner.user), study, reason).status_code == 201

    counts = client_for(coordinator).get(reverse("api-rejection-counts"))

    assert counts.status_code == 200
    assert [(c["site_code"], c["reason"], c["count"]) for c in counts.json()] == [
        ("alfa", "DUPLICATE", 1),
        ("alfa", "NOT_INDICATED", 2),
        ("bravo", "NOT_INDICATED", 1),
    ]
    # A reader credentialed only at Bravo counts only Bravo's.
    scoped = client_for(outsider.user).get(reverse("api-rejection-counts")).json()
    assert [(c["site_code"], c["count"]) for c in scoped] == [("bravo", 1)]


def test_rejection_counts_take_a_period(owner, site_a, coordinator, client_for):
    study = factories.held_study(owner, site=site_a)
    reject(client_for(owner.user), study, "DUPLICATE")
    tomorrow = (timezone.now() + dt.timedelta(days=1)).isoformat()

    later = client_for(coordinator).get(reverse("api-rejection-counts"), {"since": tomorrow})
    naive = client_for(coordinator).get(
        reverse("api-rejection-counts"), {"since": "2026-01-01T00:00:00"}
    )

    assert later.json() == []
    assert naive.status_code == 400
    assert "since" in naive.json()["errors"]


def test_coordinators_see_the_counts_in_the_admin(owner, site_a, client_for, admin_client):
    study = factories.held_study(owner, site=site_a)
    reject(client_for(owner.user), study, "DUPLICATE")

    response = admin_client.get(reverse("admin:reports_referralrejection_changelist"))

    assert response.status_code == 200
    assert "Duplicate of a recent examination" in response.content.decode()
