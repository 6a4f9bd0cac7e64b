"""The surge API (worklists/console/surge_api.py): coordinators only, in the OpenAPI schema;
a refusal names its field; start, list and end agree with the stored surges and their events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from worklists import routing
from worklists.models import Surge, SurgeEvent

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def body(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "worklist": "neuro",
        "reason": "outage at Alfa",
        "ends_at": (timezone.now() + 2 * HOUR).isoformat(),
    }
    data.update(changes)
    return data


def test_a_coordinator_starts_lists_and_ends_a_surge(neuro, coordinator, client_for):
    api = client_for(coordinator)

    started = api.post(reverse("api-console-surges"), body(), format="json")

    assert started.status_code == 201, started.json()
    surge = Surge.objects.get()
    assert started.json() | {"started_at": None, "ends_at": None} == {
        "id": surge.id,
        "worklist": "neuro",
        "tier": routing.TIER_BACKUP,
        "tier_label": "backup readers",
        "reason": "outage at Alfa",
        "started_by": "coord",
        "started_at": None,
        "ends_at": None,
        "ended_at": None,
        "ended_by": None,
        "end_reason": "",
        "running": True,
    }
    listed = api.get(reverse("api-console-surges")).json()
    assert [s["id"] for s in listed["running"]] == [surge.id]
    assert listed["recent"] == []

    ended = api.post(reverse("api-console-surge-end", args=[surge.id]))

    assert ended.status_code == 200
    assert (ended.json()["running"], ended.json()["end_reason"]) == (False, "ended")
    listed = api.get(reverse("api-console-surges")).json()
    assert (listed["running"], [s["id"] for s in listed["recent"]]) == ([], [surge.id])
    assert list(SurgeEvent.objects.values_list("action", flat=True)) == ["started", "ended"]
    again = api.post(reverse("api-console-surge-end", args=[surge.id]))
    assert again.status_code == 409


def test_every_worklist_and_a_chosen_tier(neuro, coordinator, client_for):
    answer = client_for(coordinator).post(
        reverse("api-console-surges"), body(worklist=None, tier=2), format="json"
    )
    assert answer.status_code == 201
    assert (answer.json()["worklist"], answer.json()["tier"]) == (None, routing.TIER_POOL)


def test_others_are_refused_and_nothing_changes(
    neuro, coordinator, owner, site_user, client_for, api_client
):
    surge = client_for(coordinator).post(reverse("api-console-surges"), body(), format="json")
    surge_id = surge.json()["id"]
    for url in (reverse("api-console-surges"), reverse("api-console-surge-end", args=[surge_id])):
        assert api_client.post(url, body(), format="json").status_code in (401, 403)
        for user in (owner.user, site_user):
            assert client_for(user).post(url, body(), format="json").status_code == 403
    for user in (owner.user, site_user):
        assert client_for(user).get(reverse("api-console-surges")).status_code == 403
        # a body with errors gets the refusal, not a list of the errors
        wrong = client_for(user).post(reverse("api-console-surges"), {}, format="json")
        assert wrong.status_code == 403
    assert Surge.objects.count() == 1
    assert Surge.objects.get().ended_at is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": "  "}, "reason"),
        ({"ends_at": "2020-01-01T10:00:00+01:00"}, "ends_at"),
        ({"ends_at": "2030-01-01T10:00:00"}, "ends_at"),  # no UTC offset
        ({"worklist": "nosuch"}, "worklist"),
        ({"tier": 5}, "tier"),
    ],
)
def test_a_refusal_names_its_field(neuro, coordinator, client_for, changes, field):
    answer = client_for(coordinator).post(
        reverse("api-console-surges"), body(**changes), format="json"
    )
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == [field]
    assert Surge.objects.count() == 0


def test_ending_a_surge_that_does_not_exist_is_404(coordinator, client_for):
    assert (
        client_for(coordinator).post(reverse("api-console-surge-end", args=[999])).status_code
        == 404
    )


def test_the_surge_endpoints_are_in_the_openapi_schema(client):
    schema = client.get(reverse("schema"), {"format": "json"}).json()
    surges = schema["paths"]["/api/v1/console/surges"]
    assert {"get", "post"} <= set(surges)
    assert surges["post"]["operationId"] == "v1_console_surge_start"
    assert "post" in schema["paths"]["/api/v1/console/surges/{surge_id}/end"]
    start = schema["components"]["schemas"]["SurgeInRequest"]
    assert set(start["required"]) == {"reason", "ends_at"}
