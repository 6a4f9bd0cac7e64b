"""The console's API: coordinators only, in the OpenAPI schema, the same figures as the page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.console_support import operation
from worklists.models import AuditEvent, CoordinatorAlert
from worklists.services.alerts import alert_raise

pytestmark = pytest.mark.django_db

READS = ("api-console-backlog", "api-console-load", "api-console-alerts")


@pytest.fixture
def op(site_a, site_b, neuro, owner):
    return operation(site_a=site_a, site_b=site_b, neuro=neuro, owner=owner)


@pytest.fixture
def alert(op):
    return alert_raise(kind="routing.escalation", message="nobody", study_id=op.soon.id)[0]


@pytest.mark.parametrize("name", READS)
def test_reads_are_for_coordinators_only(
    name, op, alert, owner, site_user, coordinator, client_for, api_client
):
    url = reverse(name)
    assert api_client.get(url).status_code in (401, 403)
    assert client_for(owner.user).get(url).status_code == 403  # the owner radiologist
    assert client_for(site_user).get(url).status_code == 403
    assert client_for(coordinator).get(url).status_code == 200


@pytest.mark.parametrize("action", ["api-console-alert-acknowledge", "api-console-alert-snooze"])
def test_actions_are_for_coordinators_only(action, op, alert, owner, site_user, client_for):
    url = reverse(action, args=[alert.id])
    for user in (owner.user, site_user):
        assert client_for(user).post(url, {"minutes": 30}, format="json").status_code == 403
    alert.refresh_from_db()
    assert alert.is_open
    assert alert.snoozed_until is None


def test_the_backlog_and_at_risk_list(op, coordinator, client_for):
    body = client_for(coordinator).get(reverse("api-console-backlog")).json()
    assert body["total"]["unread"] == 4
    assert body["total"]["work_units"] == "6.00"
    neuro = next(line for line in body["worklists"] if line["key"] == "neuro")
    assert (neuro["unread"], neuro["at_risk"], neuro["overdue"]) == (2, 1, 1)
    assert [row["study_id"] for row in body["at_risk"]] == [op.late.id, op.soon.id, op.waiting.id]
    assert body["at_risk"][0]["holder"]["id"] == op.on_shift.id
    assert body["at_risk"][1]["holder"] is None
    audited = AuditEvent.objects.filter(
        actor_id=coordinator.pk, channel="api", action=AuditEvent.Action.STUDY_LIST
    ).values_list("object_id", flat=True)
    assert set(audited) == {str(op.late.id), str(op.soon.id), str(op.waiting.id)}


def test_the_load_board(op, coordinator, client_for):
    body = client_for(coordinator).get(reverse("api-console-load")).json()
    assert [r["reader"]["id"] for r in body] == [op.off_shift.id, op.on_shift.id, op.next_up.id]
    flagged, on, _next = body
    assert flagged["off_shift_with_queue"] is True
    assert (on["queue_count"], on["queue_work_units"], on["done_work_units"]) == (2, "3.50", "3.50")
    assert on["target_work_units"] == "10.00"
    assert on["open_study"]["study_id"] == op.late.id
    assert on["competences"][0] == {"worklist": "Nevroradiologi", "level": "PRIMARY"}
    assert on["sites"] == ["alfa"]


def test_acknowledge_then_it_is_gone_and_a_second_acknowledge_conflicts(
    op, alert, coordinator, client_for
):
    client = client_for(coordinator)
    assert [a["id"] for a in client.get(reverse("api-console-alerts")).json()["open"]] == [alert.id]
    url = reverse("api-console-alert-acknowledge", args=[alert.id])
    response = client.post(url)
    assert response.status_code == 200
    assert response.json()["resolved_by"] == "coord"
    assert response.json()["resolution"] == "acknowledged"
    assert client.get(reverse("api-console-alerts")).json()["open"] == []
    assert client.post(url).status_code == 409
    missing = reverse("api-console-alert-acknowledge", args=[999999])
    assert client.post(missing).status_code == 404


def test_snooze_until_a_time_or_for_minutes(op, alert, coordinator, client_for):
    client = client_for(coordinator)
    url = reverse("api-console-alert-snooze", args=[alert.id])
    until = (timezone.now() + dt.timedelta(hours=1)).replace(microsecond=0)
    response = client.post(url, {"until": until.isoformat()}, format="json")
    assert response.status_code == 200
    assert CoordinatorAlert.objects.get(pk=alert.id).snoozed_until == until
    body = client.get(reverse("api-console-alerts")).json()
    assert body["open"] == []
    assert [a["id"] for a in body["snoozed"]] == [alert.id]

    assert client.post(url, {"minutes": 15}, format="json").status_code == 200
    past = client.post(url, {"until": "2020-01-01T10:00:00+01:00"}, format="json")
    assert past.status_code == 400
    assert "until" in past.json()["errors"]
    naive = client.post(url, {"until": "2030-01-01T10:00:00"}, format="json")
    assert naive.status_code == 400
    assert client.post(url, {}, format="json").status_code == 400


def test_the_console_endpoints_are_in_the_openapi_schema(client):
    schema = client.get(reverse("schema"), {"format": "json"}).json()
    for path in (
        "/api/v1/console/backlog",
        "/api/v1/console/load",
        "/api/v1/console/alerts",
        "/api/v1/console/alerts/{alert_id}/acknowledge",
        "/api/v1/console/alerts/{alert_id}/snooze",
    ):
        assert path in schema["paths"], path
    snooze = schema["paths"]["/api/v1/console/alerts/{alert_id}/snooze"]["post"]
    assert snooze["operationId"] == "v1_console_alert_snooze"
