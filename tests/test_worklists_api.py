"""GET /api/v1/worklists: each worklist's unread backlog, scoped to what the caller may see."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from tests import factories
from worklists.models import StudyStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/worklists"
NOW = timezone.now().replace(microsecond=0)
_births = itertools.count()


def make_study(**kwargs):
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=next(_births))
    return factories.StudyFactory(patient__birth_date=birth, **kwargs)


def unread(site, worklist, *, hours_ago: int, deadline_in: int, units: str, **kwargs):
    return make_study(
        site=site,
        worklist=worklist,
        status=kwargs.pop("status", StudyStatus.READY),
        ready_at=NOW - dt.timedelta(hours=hours_ago),
        deadline=NOW + dt.timedelta(hours=deadline_in),
        work_units=Decimal(units),
        **kwargs,
    )


@pytest.fixture
def backlog(site_a, site_b, neuro, general_worklist):
    """Site A: three unread neuro studies and one unclassified general study, plus neuro studies
    that are not unread. Site B: one unread neuro study, older and more urgent than site A's."""
    unread(site_a, neuro, hours_ago=2, deadline_in=10, units="2.50")
    unread(site_a, neuro, hours_ago=3, deadline_in=5, units="1.00", status=StudyStatus.ASSIGNED)
    unread(site_a, neuro, hours_ago=1, deadline_in=20, units="0.50", status=StudyStatus.IN_PROGRESS)
    unread(site_a, general_worklist, hours_ago=1, deadline_in=3, units="1.00", is_unclassified=True)
    for status in (
        StudyStatus.ORDERED,
        StudyStatus.PRELIMINARY,
        StudyStatus.FINAL,
        StudyStatus.CANCELLED,
        StudyStatus.REJECTED,
        StudyStatus.ON_HOLD,
    ):
        unread(site_a, neuro, hours_ago=50, deadline_in=-40, units="9.00", status=status)
    unread(site_b, neuro, hours_ago=30, deadline_in=1, units="4.00")


def by_code(response) -> dict[str, dict]:
    assert response.status_code == 200, response.data
    return {row["code"]: row for row in response.data}


def at(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def test_each_worklist_counts_only_ready_assigned_and_in_progress_studies(
    client_for, owner, backlog
):
    rows = by_code(client_for(owner.user).get(URL))

    neuro = rows["neuro"]
    assert neuro["name"] == "Nevroradiologi"
    assert neuro["is_general"] is False
    assert neuro["unread_count"] == 3
    assert Decimal(neuro["work_units"]) == Decimal("4.00")
    assert at(neuro["oldest_ready_at"]) == NOW - dt.timedelta(hours=3)
    assert at(neuro["most_urgent_deadline"]) == NOW + dt.timedelta(hours=5)
    assert neuro["unclassified_count"] == 0


def test_the_general_worklist_counts_its_unclassified_studies(client_for, owner, backlog):
    general = by_code(client_for(owner.user).get(URL))["general"]

    assert general["is_general"] is True
    assert general["unread_count"] == 1
    assert general["unclassified_count"] == 1
    assert Decimal(general["work_units"]) == Decimal("1.00")


def test_an_empty_worklist_is_listed_with_zeros(client_for, owner, backlog):
    factories.WorklistFactory(code="breast", name="Mammografi")

    breast = by_code(client_for(owner.user).get(URL))["breast"]

    assert breast["unread_count"] == 0
    assert breast["unclassified_count"] == 0
    assert Decimal(breast["work_units"]) == Decimal("0")
    assert breast["oldest_ready_at"] is None
    assert breast["most_urgent_deadline"] is None


def test_the_outsiders_counts_exclude_the_other_sites_studies(client_for, outsider, backlog):
    rows = by_code(client_for(outsider.user).get(URL))

    assert rows["neuro"]["unread_count"] == 1
    assert Decimal(rows["neuro"]["work_units"]) == Decimal("4.00")
    assert at(rows["neuro"]["oldest_ready_at"]) == NOW - dt.timedelta(hours=30)
    assert rows["general"]["unread_count"] == 0


def test_a_site_user_counts_only_their_site(client_for, site_user, backlog):
    rows = by_code(client_for(site_user).get(URL))

    assert rows["neuro"]["unread_count"] == 3


def test_a_coordinator_counts_every_site(client_for, coordinator, backlog):
    rows = by_code(client_for(coordinator).get(URL))

    neuro = rows["neuro"]
    assert neuro["unread_count"] == 4
    assert Decimal(neuro["work_units"]) == Decimal("8.00")
    assert at(neuro["oldest_ready_at"]) == NOW - dt.timedelta(hours=30)
    assert at(neuro["most_urgent_deadline"]) == NOW + dt.timedelta(hours=1)


def test_the_site_filter_narrows_the_counts(client_for, coordinator, backlog):
    client = client_for(coordinator)

    assert by_code(client.get(f"{URL}?site=alfa"))["neuro"]["unread_count"] == 3
    assert by_code(client.get(f"{URL}?site=bravo"))["neuro"]["unread_count"] == 1
    assert by_code(client.get(f"{URL}?site=nowhere"))["neuro"]["unread_count"] == 0


def test_the_site_filter_cannot_widen_the_scope(client_for, owner, backlog):
    rows = by_code(client_for(owner.user).get(f"{URL}?site=bravo"))

    assert rows["neuro"]["unread_count"] == 0


def test_a_user_who_sees_no_site_gets_the_worklists_with_zeros(client_for, backlog):
    rows = by_code(client_for(factories.UserFactory()).get(URL))

    assert {row["unread_count"] for row in rows.values()} == {0}


def test_anonymous_is_refused(api_client, backlog):
    assert api_client.get(URL).status_code == 401


def test_the_worklist_summary_query_count_does_not_grow_with_the_backlog(
    client_for, coordinator, backlog, site_a, neuro, django_assert_num_queries
):
    for hours in range(20):
        unread(site_a, neuro, hours_ago=hours, deadline_in=hours, units="1.00")

    # Coordinator check, one grouped aggregate, the worklists.
    with django_assert_num_queries(3):
        response = client_for(coordinator).get(URL)
    assert by_code(response)["neuro"]["unread_count"] == 24
