"""The one scoping function: who sees which sites' studies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from tests import factories
from worklists.access import (
    is_coordinator,
    sites_visible_to,
    studies_visible_to,
    visible_site_ids,
)
from worklists.models import SiteMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def studies(site_a, site_b):
    a = factories.StudyFactory(site=site_a, patient__birth_date=dt.date(1961, 2, 3))
    b = factories.StudyFactory(site=site_b, patient__birth_date=dt.date(1962, 3, 4))
    return a, b


def visible(user) -> set[int]:
    return set(studies_visible_to(user).values_list("id", flat=True))


def test_a_radiologist_sees_the_sites_they_hold_a_credential_for(owner, site_a, studies):
    a, _ = studies

    assert visible_site_ids(owner.user) == {site_a.id}
    assert visible(owner.user) == {a.id}


def test_two_radiologists_credentialed_at_one_site_see_the_same(owner, other_radiologist, studies):
    assert visible(other_radiologist.user) == visible(owner.user)


def test_the_outsider_sees_only_their_own_site(outsider, site_b, studies):
    _, b = studies

    assert visible_site_ids(outsider.user) == {site_b.id}
    assert visible(outsider.user) == {b.id}


def test_a_site_user_sees_their_site(site_user, site_a, studies):
    a, _ = studies

    assert visible_site_ids(site_user) == {site_a.id}
    assert visible(site_user) == {a.id}


def test_a_coordinator_sees_every_site(coordinator, studies, site_a, site_b):
    assert is_coordinator(coordinator)
    assert visible_site_ids(coordinator) is None
    assert visible(coordinator) == {s.id for s in studies}
    assert set(sites_visible_to(coordinator)) == {site_a, site_b}


def test_a_superuser_is_treated_as_a_coordinator(studies):
    admin = factories.UserFactory(is_superuser=True)

    assert visible_site_ids(admin) is None
    assert visible(admin) == {s.id for s in studies}


def test_anonymous_sees_nothing(studies):
    assert visible_site_ids(AnonymousUser()) == set()
    assert visible(AnonymousUser()) == set()
    assert not is_coordinator(AnonymousUser())


def test_a_user_without_credential_or_membership_sees_nothing(studies):
    assert visible(factories.UserFactory()) == set()


def test_a_site_member_of_b_who_is_a_radiologist_at_a_sees_both(site_a, site_b, studies):
    rad = factories.RadiologistFactory()
    factories.credential(rad, site_a)
    SiteMembership.objects.create(user=rad.user, site=site_b)

    assert visible_site_ids(rad.user) == {site_a.id, site_b.id}
    assert visible(rad.user) == {s.id for s in studies}
    assert set(sites_visible_to(rad.user)) == {site_a, site_b}


@pytest.mark.parametrize("persona", ["owner", "site_user", "coordinator"])
def test_an_inactive_user_sees_nothing(request, studies, persona):
    user = request.getfixturevalue(persona)
    user = getattr(user, "user", user)
    user.is_active = False
    user.save()

    assert visible_site_ids(user) == set()
    assert visible(user) == set()


def test_a_deactivated_radiologist_loses_the_credentialed_sites(owner, studies):
    owner.is_active = False
    owner.save()

    assert visible(owner.user) == set()


def test_a_deactivated_radiologist_keeps_their_site_membership(owner, site_b, studies):
    _, b = studies
    SiteMembership.objects.create(user=owner.user, site=site_b)
    owner.is_active = False
    owner.save()

    assert visible(owner.user) == {b.id}


@pytest.mark.parametrize(
    ("valid_from_days", "valid_until_days", "revoked", "sees"),
    [
        pytest.param(-10, None, False, True, id="open-ended"),
        pytest.param(-10, 0, False, True, id="expires-today"),
        pytest.param(0, None, False, True, id="starts-today"),
        pytest.param(-10, -1, False, False, id="expired-yesterday"),
        pytest.param(1, None, False, False, id="starts-tomorrow"),
        pytest.param(-10, None, True, False, id="revoked"),
        pytest.param(-10, 10, True, False, id="revoked-within-period"),
    ],
)
def test_only_a_valid_credential_gives_access(
    site_a, studies, valid_from_days, valid_until_days, revoked, sees
):
    today = timezone.localdate()
    rad = factories.RadiologistFactory()
    factories.credential(
        rad,
        site_a,
        valid_from=today + dt.timedelta(days=valid_from_days),
        valid_until=None
        if valid_until_days is None
        else today + dt.timedelta(days=valid_until_days),
        revoked_at=timezone.now() if revoked else None,
    )

    assert visible_site_ids(rad.user) == ({site_a.id} if sees else set())
    assert visible(rad.user) == ({studies[0].id} if sees else set())


def test_one_valid_credential_is_enough_when_another_for_the_site_expired(site_a, studies):
    today = timezone.localdate()
    rad = factories.RadiologistFactory()
    factories.credential(
        rad,
        site_a,
        valid_from=today - dt.timedelta(days=400),
        valid_until=today - dt.timedelta(days=35),
    )
    factories.credential(rad, site_a, valid_from=today - dt.timedelta(days=30))

    assert visible_site_ids(rad.user) == {site_a.id}


def test_whom_a_user_may_see_costs_one_query_and_scoping_adds_no_study_query(
    owner, studies, django_assert_num_queries
):
    # the coordinators' group, the membership and the credentials in one (worklists.queries)
    with django_assert_num_queries(1):
        qs = studies_visible_to(owner.user)
    with django_assert_num_queries(1):
        assert len(list(qs)) == 1


def test_a_credential_is_judged_by_the_date_at_its_own_site(owner):
    from worklists.access import credentialed_site_ids

    auckland = factories.SiteFactory(code="akl", time_zone="Pacific/Auckland")
    factories.credential(owner, auckland, valid_until=dt.date(2026, 11, 26))
    noon_utc = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)  # 27 November in Auckland

    assert auckland.id not in credentialed_site_ids(owner.user, now=noon_utc)
    assert auckland.id in credentialed_site_ids(owner.user, now=noon_utc - dt.timedelta(hours=12))
