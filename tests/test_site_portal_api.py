"""GET /api/v1/site/studies: the site portal's list over the API, scoped and audited like the
page, in the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.portal_support import RETURN_COMMENT, sign, site_studies, site_user_of
from worklists.models import AuditEvent, PatientIdentifier

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/site/studies"


@pytest.fixture
def studies(site_a, site_b, neuro, owner):
    return site_studies(site=site_a, other_site=site_b, worklist=neuro, reader=owner)


@pytest.fixture
def bravo_user(site_b):
    return site_user_of(site_b, "bravo-desk")


def test_the_url_is_named():
    assert reverse("api-site-portal-studies") == URL


def test_a_site_user_gets_their_sites_studies_by_state_with_counts(client_for, site_user, studies):
    answer = client_for(site_user).get(URL)

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["site"] == "alfa"
    assert body["counts"] == {
        "waiting": 3,
        "reading": 1,
        "preliminary": 1,
        "final": 2,
        "returned": 1,
        "cancelled": 1,
    }
    assert [r["study_id"] for r in body["results"]] == [s.id for s in studies.of_site()]
    assert body["next_cursor"] is None
    final = next(r for r in body["results"] if r["study_id"] == studies.final.id)
    assert (final["state"], final["report"]["status"], final["delivery"]["status"]) == (
        "final",
        "final",
        "acknowledged",
    )
    assert final["delivery"]["ack_code"] == "AA"
    addended = next(r for r in body["results"] if r["study_id"] == studies.addended.id)
    assert (addended["report"]["status"], addended["delivery"]["status"]) == ("addended", "dead")
    assert "cannot connect" in addended["delivery"]["last_error"]
    returned = next(r for r in body["results"] if r["study_id"] == studies.returned.id)
    assert returned["returned"]["reason"] == "INSUFFICIENT_INFO"
    assert returned["returned"]["comment"] == RETURN_COMMENT


def test_filters_state_period_and_exact_search(client_for, site_user, studies):
    client = client_for(site_user)
    finals = client.get(URL, {"state": "final"}).json()["results"]
    assert [r["study_id"] for r in finals] == [studies.final.id, studies.addended.id]

    day = studies.final.ordered_at.astimezone(studies.final.site.zone).date().isoformat()
    in_period = client.get(URL, {"from": day, "to": day}).json()
    assert studies.final.id in [r["study_id"] for r in in_period["results"]]
    assert in_period["date_from"] == day

    found = client.get(URL, {"q": studies.returned.accession_number}).json()["results"]
    assert [r["study_id"] for r in found] == [studies.returned.id]


def test_another_sites_studies_are_never_listed_or_found(
    client_for, site_user, bravo_user, studies
):
    other = studies.other_site
    fnr = other.patient.identifiers.get(authority=PatientIdentifier.NATIONAL_AUTHORITY).value
    alfa = client_for(site_user)
    for query in ({}, {"q": other.accession_number}, {"q": fnr}, {"state": "final"}):
        ids = [r["study_id"] for r in alfa.get(URL, query).json()["results"]]
        assert other.id not in ids
    assert alfa.get(URL, {"site": "bravo"}).status_code == 403

    bravo = client_for(bravo_user).get(URL).json()
    assert [r["study_id"] for r in bravo["results"]] == [other.id]


def test_radiologists_and_site_tokens_are_refused_and_coordinators_name_a_site(
    client_for, owner, coordinator, studies, api_client
):
    refused = client_for(owner.user).get(URL)
    assert refused.status_code == 403
    assert "portal" in str(refused.json())
    assert api_client.get(URL).status_code in (401, 403)

    coordinator_client = client_for(coordinator)
    assert coordinator_client.get(URL).status_code == 400
    assert coordinator_client.get(URL, {"site": "nowhere"}).status_code == 404
    bravo = coordinator_client.get(URL, {"site": "bravo"}).json()
    assert [r["study_id"] for r in bravo["results"]] == [studies.other_site.id]


def test_bad_input_is_a_field_error(client_for, site_user):
    client = client_for(site_user)
    for query, field in (
        ({"state": "lost"}, "state"),
        ({"from": "yesterday"}, "date_from"),
        ({"from": "2026-12-03", "to": "2026-12-01"}, "date_to"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ):
        answer = client.get(URL, query)
        assert answer.status_code == 400, query
        assert field in answer.json()["errors"], answer.json()


def test_every_study_listed_is_audited(client_for, site_user, studies):
    AuditEvent.objects.all().delete()
    client_for(site_user).get(URL)
    listed = set(
        AuditEvent.objects.filter(
            actor=site_user, action=AuditEvent.Action.STUDY_LIST, channel="api"
        ).values_list("object_id", flat=True)
    )
    assert listed == {str(s.id) for s in studies.of_site()}


def test_the_query_count_does_not_grow_with_the_rows(client_for, site_user, owner, site_a):
    client = client_for(site_user)

    def add(n: int) -> None:
        for _ in range(n):
            sign(owner, factories.held_study(owner, site=site_a))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured.captured_queries)

    add(5)
    client.get(URL)
    five = queries()
    add(15)
    assert queries() == five


def test_the_endpoint_is_in_the_openapi_schema(client):
    schema = client.get(reverse("schema"), {"format": "json"}).json()
    operation = schema["paths"][URL]["get"]
    assert operation["operationId"] == "v1_site_studies"
    names = {p["name"] for p in operation["parameters"]}
    assert {"site", "state", "from", "to", "q", "cursor"} <= names
    assert "post" not in schema["paths"][URL]
