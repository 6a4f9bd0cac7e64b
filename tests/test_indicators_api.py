"""GET /api/v1/indicators and the page's CSV downloads: the same figures as the selector, for
the same viewer; clear errors for a bad query; in the OpenAPI schema; the page's statements do
not grow with the number of studies."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from indicators.periods import GroupBy
from indicators.scope import viewer_of
from indicators.selectors import indicators
from indicators.tables import csv_value
from tests import indicators_support as support

pytestmark = pytest.mark.django_db

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def scenario(site_a, site_b, neuro, owner, other_radiologist, outsider):
    return support.build(
        site_a=site_a, site_b=site_b, neuro=neuro, owner=owner, other=other_radiologist,
        outsider=outsider,
    )  # fmt: skip


def test_the_api_answers_the_tables_of_the_selector(scenario, client_for, coordinator):
    answer = client_for(coordinator).get(
        reverse("api-indicators"), {**NOVEMBER, "group_by": "priority"}
    )

    assert answer.status_code == 200
    body = answer.json()
    assert (body["first_day"], body["last_day"], body["group_by"]) == (
        "2026-11-01", "2026-11-30", "priority",
    )  # fmt: skip
    expected = indicators(
        viewer=viewer_of(coordinator), period=support.NOVEMBER, group_by=GroupBy.PRIORITY
    )
    assert [t["key"] for t in body["tables"]] == [t.key for t in expected.tables]
    turnaround = next(t for t in body["tables"] if t["key"] == "turnaround")
    assert [row["group"] for row in turnaround["rows"]] == ["STAT", "Cancer pathway", "Routine"]
    assert turnaround["rows"][2]["ready_to_final_p50"] == pytest.approx(180)
    assert turnaround["columns"][1] == {"key": "signed", "label": "Signed final", "kind": "count"}


def test_the_api_is_scoped_as_the_page(scenario, client_for):
    body = client_for(scenario.outsider.user).get(reverse("api-indicators"), NOVEMBER).json()

    sites = next(t for t in body["tables"] if t["key"] == "sites")
    readers = next(t for t in body["tables"] if t["key"] == "readers")
    assert [row["group"] for row in sites["rows"]] == ["Bravo røntgeninstitutt"]
    assert [row["group"] for row in readers["rows"]] == [scenario.outsider.display_name]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "1 Nov"}, "from"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "to"),
        ({"from": "2024-01-01", "to": "2026-11-01"}, "to"),
        ({"group_by": "colour"}, "group_by"),
        ({"from": "9999-12-31"}, "from"),
        ({"to": "0001-01-01"}, "to"),
    ],
)
def test_a_bad_query_is_refused_naming_its_field(client_for, coordinator, query, field):
    answer = client_for(coordinator).get(reverse("api-indicators"), query)

    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == [field]


def test_a_site_user_may_not_group_by_reader(client_for, site_user):
    answer = client_for(site_user).get(reverse("api-indicators"), {"group_by": "reader"})

    assert answer.status_code == 400
    assert "group_by" in answer.json()["errors"]


def test_without_authentication_nothing_is_answered(api_client):
    assert api_client.get(reverse("api-indicators")).status_code in (401, 403)


def test_the_endpoint_is_in_the_schema(client):
    schema = client.get(reverse("schema"), {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/indicators"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "group_by"}


def test_every_csv_download_holds_the_rows_of_its_table(scenario, client, coordinator):
    client.force_login(coordinator)
    result = indicators(
        viewer=viewer_of(coordinator), period=support.NOVEMBER, group_by=GroupBy.READER
    )

    for table in result.tables:
        answer = client.get(
            reverse("indicators-csv", args=[table.key]), {**NOVEMBER, "group_by": "reader"}
        )
        assert answer.status_code == 200
        assert answer["Content-Type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(answer.content.decode())))
        assert lines[0][0] == table.columns[0].label
        assert lines[1:] == [
            [csv_value(c.kind, row.get(c.key)) for c in table.columns] for row in table.rows
        ]
        assert len(lines) == len(table.rows) + 1


def test_an_unknown_table_is_not_found(client, coordinator):
    client.force_login(coordinator)

    assert client.get(reverse("indicators-csv", args=["salaries"])).status_code == 404


def test_the_page_says_what_is_wrong_with_a_bad_date(client, coordinator):
    client.force_login(coordinator)

    page = client.get(reverse("indicators"), {"from": "yesterday"})

    assert page.status_code == 400
    assert "From: yesterday is not a date" in page.content.decode()


def test_the_page_defaults_to_the_last_30_days_grouped_by_site(client, coordinator):
    client.force_login(coordinator)

    page = client.get(reverse("indicators"))

    assert page.status_code == 200
    assert page.context["query"].period.days == 30
    assert page.context["group_by"] is GroupBy.SITE


def test_the_pages_statements_do_not_grow_with_the_studies(
    site_a, site_b, neuro, owner, other_radiologist, outsider, client, coordinator
):
    client.force_login(coordinator)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("indicators"), NOVEMBER).status_code == 200
        return len(captured.captured_queries)

    people = {"site_a": site_a, "site_b": site_b, "neuro": neuro, "owner": owner}
    support.build(**people, other=other_radiologist, outsider=outsider)
    once = count()
    support.build(**people, other=other_radiologist, outsider=outsider)
    support.build(**people, other=other_radiologist, outsider=outsider)

    assert count() == once
