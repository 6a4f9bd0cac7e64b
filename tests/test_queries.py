"""worklists.queries: each hand-written statement answers (and writes) as the ORM does, on the
same rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, Group
from django.db import connection
from django.utils import timezone

from tests import factories
from worklists.access import (
    COORDINATORS_GROUP,
    credentialed_site_ids,
    is_coordinator,
    visible_site_ids,
)
from worklists.models import (
    AuditEvent,
    Credential,
    LowValueRule,
    PatientIdentifier,
    SiteMembership,
    Study,
)
from worklists.queries import site_grants
from worklists.serializers import StudyOutSerializer
from worklists.services.audit import AccessContext, study_read, study_read_by_the_orm

pytestmark = pytest.mark.django_db


def visible_site_ids_by_the_orm(user) -> set[int] | None:
    """visible_site_ids as the ORM said it before worklists.queries: three queries."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if is_coordinator(user):
        return None
    members = set(SiteMembership.objects.filter(user_id=user.pk).values_list("site_id", flat=True))
    return members | credentialed_site_ids(user)


@pytest.fixture
def far_site(db):
    """A site whose day starts half a day before Oslo's."""
    return factories.SiteFactory(code="fjern", time_zone="Pacific/Kiritimati")


@pytest.fixture
def people(owner, other_radiologist, outsider, site_user, coordinator, site_a, site_b, far_site):
    """Every kind of grant, and the ones that do not count."""
    today = timezone.localdate()
    # a radiologist who also works for a site, with credentials expired, future and revoked
    mixed = factories.RadiologistFactory(user__username="mixed")
    SiteMembership.objects.create(user=mixed.user, site=site_b)
    factories.credential(mixed, site_a, valid_until=today - dt.timedelta(days=1))
    factories.credential(mixed, site_a, valid_from=today + dt.timedelta(days=2))
    factories.credential(mixed, far_site, revoked_at=timezone.now())
    # a credential that starts tomorrow in Oslo may be valid already where the day is ahead
    ahead = factories.RadiologistFactory(user__username="ahead")
    factories.credential(ahead, far_site, valid_from=today + dt.timedelta(days=1))
    factories.credential(ahead, site_a, valid_from=today - dt.timedelta(days=9), valid_until=today)
    factories.credential(ahead, site_b)
    # an inactive radiologist's credentials count for nothing
    retired = factories.RadiologistFactory(user__username="retired", is_active=False)
    factories.credential(retired, site_a)
    # a coordinator who also reads
    reading_coordinator = factories.RadiologistFactory(user__username="readcoord")
    factories.credential(reading_coordinator, site_a)
    reading_coordinator.user.groups.add(Group.objects.get(name=COORDINATORS_GROUP))
    superuser = factories.UserFactory(username="root", is_superuser=True)
    inactive_user = factories.UserFactory(username="gone", is_active=False)
    SiteMembership.objects.create(user=inactive_user, site=site_a)
    nobody = factories.UserFactory(username="nobody")
    nobody.groups.add(Group.objects.get_or_create(name="privacy officers")[0])
    return [
        owner.user,
        other_radiologist.user,
        outsider.user,
        site_user,
        coordinator,
        mixed.user,
        ahead.user,
        retired.user,
        reading_coordinator.user,
        superuser,
        inactive_user,
        nobody,
        AnonymousUser(),
    ]


def test_visible_site_ids_answers_as_the_orm_for_every_kind_of_grant(people):
    for user in people:
        assert visible_site_ids(user) == visible_site_ids_by_the_orm(user), user


def test_the_grants_hold_what_is_stored_and_nothing_revoked_or_of_an_inactive_radiologist(
    people, site_a, site_b, far_site
):
    by_name = {u.get_username(): u for u in people}

    mixed = site_grants(user_id=by_name["mixed"].pk, coordinators_group=COORDINATORS_GROUP)
    retired = site_grants(user_id=by_name["retired"].pk, coordinators_group=COORDINATORS_GROUP)
    coord = site_grants(user_id=by_name["coord"].pk, coordinators_group=COORDINATORS_GROUP)

    assert mixed.coordinator is False
    assert mixed.member_site_ids == {site_b.id}
    expected = sorted(
        (c.site_id, c.valid_from, c.valid_until, c.site.time_zone)
        for c in Credential.objects.filter(
            radiologist__user=by_name["mixed"], revoked_at__isnull=True
        )
    )
    assert list(mixed.credentials) == expected
    assert all(isinstance(c[1], dt.date) for c in mixed.credentials)
    assert far_site.id not in {c[0] for c in mixed.credentials}
    assert retired.credentials == ()
    assert coord.coordinator is True


# --- a study read, audited (services.audit.study_read) ----------------------------------------


def _context(user: AbstractBaseUser) -> AccessContext:
    return AccessContext(
        user_id=user.pk,
        actor_label=user.get_username(),
        channel="api",
        remote_addr="10.1.2.3",
        path="/api/v1/worklist/next",
    )


def _answer_and_audit(
    read: Callable[..., Study | None], user: AbstractBaseUser, study_id: int
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """What study_read's caller shows (the API's shape) and the audit rows it wrote."""
    before = AuditEvent.objects.count()
    study = read(
        context=_context(user),
        study_id=study_id,
        site_ids=visible_site_ids(user),
        action=AuditEvent.Action.STUDY_VIEW,
    )
    rows = [dict(row) for row in
        AuditEvent.objects.order_by("id")[before:].values(
            "actor_id", "actor_label", "action", "object_type", "object_id", "patient_id",
            "site_id", "channel", "remote_addr", "path",
        )
    ]  # fmt: skip
    if study is None:
        return None, rows
    answer = StudyOutSerializer(study, context={"now": timezone.now()}).data
    return {**answer, "deadline_risk": None}, rows  # the clock moved on between the two


@pytest.fixture
def read_cases(owner, coordinator, site_a, site_b, neuro):
    """Studies at site A (one with another site's record number, one unclassified, one flagged
    as a low-value referral) and B."""
    with_numbers = factories.ready_study(site_a, neuro, procedure_text="MR caput")
    patient = with_numbers.patient
    PatientIdentifier.objects.create(patient=patient, kind="MR", authority="alfa", value="A-1")
    PatientIdentifier.objects.create(patient=patient, kind="MR", authority="bravo", value="B-1")
    unclassified = factories.StudyFactory(site=site_a, worklist=None)
    elsewhere = factories.StudyFactory(site=site_b)
    rule = LowValueRule.objects.create(name="Example", text="Eksempel.", modality="CT")
    flagged = factories.StudyFactory(site=site_a, low_value_rule=rule, low_value_text=rule.text)
    return [owner.user, coordinator], [with_numbers, unclassified, elsewhere, flagged]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the statements are PostgreSQL's; elsewhere the ORM"
)
def test_a_study_read_answers_and_audits_as_the_orm_does(read_cases):
    users, studies = read_cases
    for user in users:
        for study in studies:
            fast = _answer_and_audit(study_read, user, study.id)
            orm = _answer_and_audit(study_read_by_the_orm, user, study.id)
            assert fast == orm, (user, study)
    flagged = studies[-1]
    answer, _ = _answer_and_audit(study_read, users[0], flagged.id)
    assert answer is not None
    assert answer["low_value_flag"] == {"rule_name": "Example", "text": "Eksempel."}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the statements are PostgreSQL's; elsewhere the ORM"
)
def test_a_study_read_shows_only_the_identifiers_of_the_readers_sites_and_audits_only_a_read(
    read_cases, owner, site_b
):
    _, (with_numbers, _, elsewhere, _) = read_cases

    answer, audit = _answer_and_audit(study_read, owner.user, with_numbers.id)
    refused, nothing = _answer_and_audit(study_read, owner.user, elsewhere.id)

    assert answer is not None
    assert "bravo" not in {i["authority"] for i in answer["patient"]["identifiers"]}
    assert {"authority": "alfa", "kind": "MR", "value": "A-1"} in answer["patient"]["identifiers"]
    assert [(a["object_id"], a["patient_id"]) for a in audit] == [
        (str(with_numbers.id), with_numbers.patient_id)
    ]
    assert (refused, nothing) == (None, [])
