"""Who sees which figures: a radiologist their sites' figures and only their own per-reader
rows, a site's user their site (and no reader's figures), a coordinator everything, anyone else
nothing. Same fixed events as tests/test_indicators.py."""

from __future__ import annotations

import pytest
from django.urls import reverse

from indicators import variation
from indicators.periods import GroupBy, PeriodInvalid
from indicators.query import parse_query
from indicators.scope import viewer_of
from indicators.selectors import indicators
from tests import factories
from tests import indicators_support as support

pytestmark = pytest.mark.django_db

ALFA, BRAVO = "Alfa sjukehus", "Bravo røntgeninstitutt"


@pytest.fixture
def scenario(site_a, site_b, neuro, owner, other_radiologist, outsider):
    return support.build(
        site_a=site_a, site_b=site_b, neuro=neuro, owner=owner, other=other_radiologist,
        outsider=outsider,
    )  # fmt: skip


def groups(user, key, group_by=GroupBy.SITE):
    result = indicators(viewer=viewer_of(user), period=support.NOVEMBER, group_by=group_by)
    return [row["group"] for row in result.table(key).rows]


def table_keys(user):
    result = indicators(viewer=viewer_of(user), period=support.NOVEMBER, group_by=GroupBy.SITE)
    return [table.key for table in result.tables]


@pytest.mark.parametrize(
    "key", ["sites", "turnaround", "volumes", "returned", "escalations", "critical", "amendments"]
)
def test_a_radiologist_sees_only_the_sites_they_are_credentialed_for(scenario, key):
    assert set(groups(scenario.owner.user, key)) <= {ALFA}
    assert set(groups(scenario.outsider.user, key)) <= {BRAVO}
    assert ALFA in groups(scenario.owner.user, "turnaround")
    assert groups(scenario.outsider.user, "turnaround") == [BRAVO]


def test_a_site_sees_its_own_figures_beside_the_regional_figure(scenario, site_user, monkeypatch):
    monkeypatch.setattr(variation, "REGIONAL_MIN_OTHER_SITES", 1)
    result = indicators(viewer=viewer_of(site_user), period=support.NOVEMBER, group_by="site")
    sites = result.table("sites").rows

    assert [row["group"] for row in sites] == [ALFA]
    # The regional figure is the median over all sites, the one figure from beyond the scope.
    assert sites[0]["regional_p50"] == pytest.approx(185)
    by_priority = groups(site_user, "turnaround", GroupBy.PRIORITY)
    assert by_priority == ["STAT", "Cancer pathway", "Routine"]
    assert sum(r["signed"] for r in result.table("priorities").rows) == 3  # not Bravo's S5


def test_a_radiologist_sees_only_their_own_per_reader_rows(scenario):
    owner = scenario.owner
    name = owner.display_name

    for key in ("turnaround", "volumes", "critical", "amendments"):
        assert groups(owner.user, key, GroupBy.READER) == [name], key
    assert groups(owner.user, "readers") == [name]
    assert "fairness" not in table_keys(owner.user)


def test_a_radiologists_shares_are_of_every_readers_hours(scenario):
    result = indicators(
        viewer=viewer_of(scenario.other.user), period=support.NOVEMBER, group_by=GroupBy.SITE
    )
    (row,) = result.table("readers").rows

    assert row["group"] == scenario.other.display_name
    assert row["hours_share"] == pytest.approx(8 / 22)


def test_a_site_user_sees_no_readers_figures_and_may_not_group_by_reader(scenario, site_user):
    viewer = viewer_of(site_user)

    assert "readers" not in table_keys(site_user)
    assert "fairness" not in table_keys(site_user)
    with pytest.raises(PeriodInvalid) as refused:
        parse_query({"group_by": "reader"}, viewer)
    assert refused.value.field == "group_by"
    # Asked anyway (through the selector): shown per site.
    result = indicators(viewer=viewer, period=support.NOVEMBER, group_by=GroupBy.READER)
    assert result.group_by is GroupBy.SITE


def test_a_coordinator_sees_every_site_reader_and_the_spread(scenario, coordinator):
    assert groups(coordinator, "turnaround") == [ALFA, BRAVO]
    assert set(groups(coordinator, "readers")) == {
        scenario.owner.display_name, scenario.other.display_name, scenario.outsider.display_name
    }  # fmt: skip
    assert groups(coordinator, "fairness") == ["Nevroradiologi"]


def test_a_user_without_sites_sees_no_figures_and_no_menu_link(scenario, client):
    nobody = factories.UserFactory(username="nobody")

    result = indicators(viewer=viewer_of(nobody), period=support.NOVEMBER, group_by="site")
    assert all(table.rows == [] for table in result.tables)
    client.force_login(nobody)
    page = client.get(reverse("worklist"))
    assert reverse("indicators").encode() not in page.content


def test_the_menu_links_the_indicators_for_those_who_see_figures(
    scenario, client, coordinator, site_user
):
    for user in (coordinator, site_user, scenario.owner.user):
        client.force_login(user)
        page = client.get(reverse("indicators"))
        assert page.status_code == 200
        assert f'href="{reverse("indicators")}" aria-current="page"'.encode() in page.content


def test_a_site_is_not_shown_a_regional_figure_that_would_give_another_sites_away(
    scenario, site_user, coordinator
):
    # Two sites: their median is the mean of the two, so Alfa's user could work out Bravo's.
    mine = indicators(viewer=viewer_of(site_user), period=support.NOVEMBER, group_by="site")
    everyone = indicators(viewer=viewer_of(coordinator), period=support.NOVEMBER, group_by="site")

    [alfa] = mine.table("sites").rows
    assert (alfa["regional_p50"], alfa["regional_within_deadline"]) == (None, None)
    assert everyone.table("sites").rows[0]["regional_p50"] == pytest.approx(185)
