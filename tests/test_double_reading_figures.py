"""Recall and disagreement rate per reader (double reading): the API
(GET /api/v1/indicators/double-reading) and the indicators page's table and CSV. A reader sees
their own figures, a coordinator every reader's, a site's user none."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from indicators.periods import GroupBy, default_period
from indicators.scope import viewer_of
from indicators.selectors import indicators
from tests import factories
from tests.double_reading_support import (
    NORMAL,
    SUSPICIOUS,
    make_cast,
    screening_study,
    sign_final,
    sign_read,
)
from worklists.models import SiteMembership

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]


@pytest.fixture
def history():
    """reader1 reads three studies: one agreed with reader2 (no recall), one disagreed with
    reader2 (reader1 recalls) and arbitrated, and one whose second read is open (recall)."""
    cast = make_cast()
    agreed = screening_study(cast)
    sign_read(agreed, cast.reader1, NORMAL)
    sign_read(agreed, cast.reader2, NORMAL)
    disagreed = screening_study(cast)
    sign_read(disagreed, cast.reader1, SUSPICIOUS)
    sign_read(disagreed, cast.reader2, NORMAL)
    sign_final(disagreed, cast.arbitrator)
    open_pair = screening_study(cast)
    sign_read(open_pair, cast.reader1, SUSPICIOUS)
    return cast


def by_name(rows):
    return {row["name"]: row for row in rows}


def test_a_coordinator_gets_every_readers_recall_and_disagreement_rate(history, client_for):
    response = client_for(history.coordinator).get(reverse("api-double-reading-figures"))

    assert response.status_code == 200
    rows = by_name(response.json())
    one, two = rows["Reader1 Lege"], rows["Reader2 Lege"]
    assert (one["reads"], one["recalls"], one["compared"], one["disagreements"]) == (3, 2, 2, 1)
    assert one["recall_rate"] == pytest.approx(2 / 3)
    assert one["disagreement_rate"] == pytest.approx(0.5)
    assert (two["reads"], two["recalls"], two["disagreement_rate"]) == (2, 0, 0.5)
    assert "Arbiter Lege" not in rows  # an arbitration is the final, not an independent read


def test_a_reader_gets_their_own_figures_only(history, client_for):
    rows = client_for(history.reader2.user).get(reverse("api-double-reading-figures")).json()

    assert [row["name"] for row in rows] == ["Reader2 Lege"]


def test_a_sites_user_gets_no_readers_figures(history, client_for):
    desk = factories.UserFactory.create(username="desk")
    SiteMembership.objects.create(user=desk, site=history.site_a)

    rows = client_for(desk).get(reverse("api-double-reading-figures")).json()

    assert rows == []


def test_the_period_bounds_the_reads(history, client_for):
    response = client_for(history.coordinator).get(
        reverse("api-double-reading-figures"), {"until": "2000-01-01T00:00:00Z"}
    )

    assert response.status_code == 200
    assert response.json() == []
    bad = client_for(history.coordinator).get(
        reverse("api-double-reading-figures"), {"since": "yesterday"}
    )
    assert bad.status_code == 400


def test_the_indicators_page_has_the_table_for_readers_and_coordinators(history):
    period = default_period()

    def table(user):
        result = indicators(viewer=viewer_of(user), period=period, group_by=GroupBy.SITE)
        return {row["group"]: row for row in result.table("double_reading").rows}

    everyone = table(history.coordinator)
    assert everyone["Reader1 Lege"]["recall_rate"] == pytest.approx(2 / 3)
    assert everyone["Reader2 Lege"]["disagreement_rate"] == pytest.approx(0.5)
    assert set(table(history.reader1.user)) == {"Reader1 Lege"}


def test_the_csv_download_holds_the_tables_rows(history, client):
    client.force_login(history.coordinator)
    period = default_period()

    response = client.get(
        reverse("indicators-csv", args=["double_reading"]),
        {"from": period.first_day.isoformat(), "to": period.last_day.isoformat()},
    )

    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(lines) == 1 + 2  # header, two readers
    assert any(line[0] == "Reader1 Lege" and line[1] == "3" for line in lines)
