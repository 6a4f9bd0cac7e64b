"""Routing a sampled review (quality.services.routing): to an eligible reviewer (competent in
the worklist, credentialed for the study's site today), never the author, fewest open reviews
first; nobody eligible: it waits unassigned, and the sweep routes it when someone becomes so."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quality.models import ReviewStatus
from quality.services.routing import reviews_route_waiting
from quality.services.sampling import review_sample
from reports.models import ReportVersion, VersionKind
from tests import factories
from tests.quality_support import final_version, policy

pytestmark = pytest.mark.django_db


def sampled(author, site, worklist):
    task = review_sample(version_id=final_version(author, site=site, worklist=worklist).id)
    assert task is not None
    return task


def test_reviews_go_to_the_eligible_reviewer_with_the_fewest_open_reviews(
    owner, other_radiologist, site_a, neuro
):
    third = factories.RadiologistFactory(user__username="third")
    factories.credential(third, site_a)
    factories.competence(third, neuro)
    policy(neuro, share="100")

    reviewers = [sampled(owner, site_a, neuro).reviewer_id for _ in range(4)]

    # Two eligible colleagues, never the author: they take turns.
    assert sorted(reviewers) == sorted([other_radiologist.id, third.id] * 2)
    assert owner.id not in reviewers


def test_a_colleague_without_a_credential_for_the_site_or_the_competence_is_never_chosen(
    owner, outsider, site_a, site_b, neuro, general_worklist
):
    """The outsider is competent but credentialed only at site B; a colleague at site A reads
    another worklist; one's credential at A has lapsed: the review waits."""
    not_competent = factories.RadiologistFactory(user__username="generalist")
    factories.credential(not_competent, site_a)
    factories.competence(not_competent, general_worklist)
    lapsed = factories.RadiologistFactory(user__username="lapsed")
    factories.credential(
        lapsed,
        site_a,
        valid_from=timezone.localdate() - dt.timedelta(days=100),
        valid_until=timezone.localdate() - dt.timedelta(days=2),
    )
    factories.competence(lapsed, neuro)
    policy(neuro, share="100")

    task = sampled(owner, site_a, neuro)

    assert task.status == ReviewStatus.UNASSIGNED
    assert task.reviewer_id is None


def test_a_waiting_review_is_routed_when_a_reviewer_becomes_eligible(
    owner, outsider, site_a, neuro
):
    policy(neuro, share="100")
    task = sampled(owner, site_a, neuro)
    assert task.status == ReviewStatus.UNASSIGNED
    assert reviews_route_waiting() == 0

    factories.credential(outsider, site_a)
    assert reviews_route_waiting() == 1

    task.refresh_from_db()
    assert (task.status, task.reviewer_id) == (ReviewStatus.ASSIGNED, outsider.id)
    assert task.assigned_at is not None
    assert list(task.events.values_list("from_status", "to_status", "reviewer_id")) == [
        ("", "UNASSIGNED", None),
        ("UNASSIGNED", "ASSIGNED", outsider.id),
    ]
    # Routed once: the sweep leaves an assigned review alone.
    assert reviews_route_waiting() == 0
    assert task.events.count() == 2


def test_an_inactive_radiologist_is_not_chosen(owner, other_radiologist, site_a, neuro):
    other_radiologist.is_active = False
    other_radiologist.save()
    policy(neuro, share="100")

    assert sampled(owner, site_a, neuro).status == ReviewStatus.UNASSIGNED


def test_the_signer_of_a_preliminary_never_reviews_the_final(
    owner, other_radiologist, site_a, neuro
):
    """``other_radiologist`` signed the study's preliminary, ``owner`` its final: both wrote the
    report, so the review waits for a third colleague."""
    policy(neuro, share="100")
    final = final_version(owner, site=site_a, worklist=neuro)
    ReportVersion.objects.create(
        study=final.study,
        number=0,
        kind=VersionKind.PRELIMINARY,
        sections=final.sections,
        signed_by=other_radiologist,
        signer_name=other_radiologist.display_name,
        signer_hpr=other_radiologist.hpr_number,
        signed_at=final.signed_at - dt.timedelta(hours=1),
        password_confirmed=False,
        content_hash="1" * 64,
    )

    task = review_sample(version_id=final.id)

    assert task is not None
    assert task.status == ReviewStatus.UNASSIGNED
    third = factories.RadiologistFactory(user__username="third")
    factories.credential(third, site_a)
    factories.competence(third, neuro)
    assert reviews_route_waiting() == 1
    task.refresh_from_db()
    assert task.reviewer_id == third.id
