"""POST /api/v1/worklist/next, claim/release/assign/routing endpoints, and the "Read next"
button on the worklist page."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from tests import factories
from worklists import selectors
from worklists.access import visible_site_ids
from worklists.models import (
    Assignment,
    AuditEvent,
    CoordinatorAlert,
    PatientIdentifier,
    Study,
    StudyStatus,
)
from worklists.queries import READ_NEXT_RULE
from worklists.serializers import ClaimedOutSerializer
from worklists.services.routing import forget_coverage_cache
from worklists.services.tokens import personal_token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_coverage():
    forget_coverage_cache()


@pytest.fixture
def reader(owner, neuro):
    factories.shift(owner, worklists=(neuro,))
    return owner


def test_next_gives_the_readers_queued_stat_before_a_pool_study(reader, site_a, neuro, client_for):
    factories.ready_study(site_a, neuro)
    stat = factories.ready_study(site_a, neuro, priority="STAT", status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=stat, radiologist=reader, kind=Assignment.Kind.PUSH, assigned_at=stat.ready_at
    )

    response = client_for(reader.user).post(reverse("api-worklist-next"))

    assert response.status_code == 200
    body = response.json()
    assert (body["study"]["id"], body["from_queue"]) == (stat.id, True)
    assert body["reading_url"] == reverse("reading", kwargs={"study_id": stat.id})


def test_next_claims_and_returns_the_study_with_where_to_read_it(reader, site_a, neuro, client_for):
    study = factories.ready_study(site_a, neuro)

    response = client_for(reader.user).post(reverse("api-worklist-next"))

    assert response.status_code == 200
    body = response.json()
    assert body["study"]["id"] == study.id
    assert body["study"]["status"] == StudyStatus.ASSIGNED
    assert body["bundled_study_ids"] == []
    assert body["from_queue"] is False
    assert body["reading_url"] == reverse("reading", kwargs={"study_id": study.id})
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == reader.id
    assert AuditEvent.objects.filter(
        actor=reader.user, action="study.view", object_id=str(study.id)
    ).exists()


def test_next_answers_what_its_schemas_serializer_renders_for_the_claimed_study(
    reader, site_a, neuro, client_for
):
    study = factories.ready_study(site_a, neuro)
    PatientIdentifier.objects.create(patient=study.patient, kind="MR", authority="alfa", value="1")

    body = client_for(reader.user).post(reverse("api-worklist-next")).json()

    claimed = Study.objects.select_related("site", "worklist", "patient").get(id=study.id)
    selectors.with_visible_identifiers([claimed], visible_site_ids(reader.user))
    expected = ClaimedOutSerializer(
        {
            "study": claimed,
            "bundled_study_ids": [],
            "reading_url": reverse("reading", kwargs={"study_id": study.id}),
            "from_queue": False,
        }
    ).data
    assert body == json.loads(JSONRenderer().render(expected))
    assert len(body["study"]["patient"]["identifiers"]) == 2


def test_next_answers_204_when_nothing_is_eligible(reader, client_for, site_b, neuro):
    factories.ready_study(site_b, neuro)  # a site the reader has no credential for
    response = client_for(reader.user).post(reverse("api-worklist-next"))
    assert response.status_code == 204
    assert Assignment.objects.count() == 0


def test_next_is_for_radiologists_and_logged_in_users_only(api_client, client_for, site_user):
    assert api_client.post(reverse("api-worklist-next")).status_code in (401, 403)
    response = client_for(site_user).post(reverse("api-worklist-next"))
    assert response.status_code == 403


def test_claim_answers_409_when_someone_else_holds_the_study(
    reader, other_radiologist, site_a, neuro, client_for
):
    factories.shift(other_radiologist, worklists=(neuro,))
    study = factories.ready_study(site_a, neuro)
    url = reverse("api-study-claim", kwargs={"study_id": study.id})

    first = client_for(reader.user).post(url)
    second = client_for(other_radiologist.user).post(url)

    assert first.status_code == 200
    assert first.json()["radiologist_id"] == reader.id
    assert second.status_code == 409
    assert "held by another radiologist" in second.json()["errors"]["non_field_errors"][0]


def test_claim_of_a_study_outside_ones_sites_is_404(outsider, site_a, neuro, client_for):
    study = factories.ready_study(site_a, neuro)
    url = reverse("api-study-claim", kwargs={"study_id": study.id})
    assert client_for(outsider.user).post(url).status_code == 404


def test_release_by_the_holder_returns_the_study_and_by_anyone_else_is_409(
    reader, other_radiologist, site_a, neuro, client_for
):
    study = factories.ready_study(site_a, neuro)
    client_for(reader.user).post(reverse("api-study-claim", kwargs={"study_id": study.id}))
    url = reverse("api-study-release", kwargs={"study_id": study.id})

    assert client_for(other_radiologist.user).post(url).status_code == 409
    response = client_for(reader.user).post(url, {"reason": "needs a neuro colleague"})

    assert response.status_code == 200
    assert response.json() == {"study_id": study.id, "status": "READY"}


def test_coordinators_assign_with_a_mandatory_reason(
    reader, site_a, neuro, coordinator, client_for
):
    study = factories.ready_study(site_a, neuro)
    url = reverse("api-study-assign", kwargs={"study_id": study.id})
    client = client_for(coordinator)

    missing = client.post(url, {"radiologist_id": reader.id}, format="json")
    blank = client.post(url, {"radiologist_id": reader.id, "reason": " "}, format="json")
    ok = client.post(url, {"radiologist_id": reader.id, "reason": "surge"}, format="json")

    assert missing.status_code == 400
    assert "reason" in missing.json()["errors"]
    assert blank.status_code == 400
    assert ok.status_code == 200
    assert ok.json()["kind"] == Assignment.Kind.MANUAL
    nobody = client.post(url, {"radiologist_id": 999999, "reason": "x"}, format="json")
    assert nobody.status_code == 400


def test_only_coordinators_assign_and_read_routing_decisions(
    reader, other_radiologist, site_a, neuro, client_for, coordinator
):
    study = factories.ready_study(site_a, neuro)
    assign = reverse("api-study-assign", kwargs={"study_id": study.id})
    routing = reverse("api-study-routing", kwargs={"study_id": study.id})
    body = {"radiologist_id": other_radiologist.id, "reason": "mine now"}

    assert client_for(reader.user).post(assign, body, format="json").status_code == 403
    assert client_for(reader.user).get(routing).status_code == 403
    client_for(coordinator).post(assign, body, format="json")
    decisions = client_for(coordinator).get(routing).json()
    assert decisions[0]["mode"] == "MANUAL"
    assert decisions[0]["trace"]["reason"] == "mine now"


def test_a_read_next_claim_shows_among_the_routing_decisions_without_an_id(
    reader, other_radiologist, site_a, neuro, client_for, coordinator
):
    study = factories.ready_study(site_a, neuro)
    assert client_for(reader.user).post(reverse("api-worklist-next")).status_code == 200
    routing = reverse("api-study-routing", kwargs={"study_id": study.id})
    assign = reverse("api-study-assign", kwargs={"study_id": study.id})
    body = {"radiologist_id": other_radiologist.id, "reason": "handover"}
    assert client_for(coordinator).post(assign, body, format="json").status_code == 200

    decisions = client_for(coordinator).get(routing).json()

    assert [(d["mode"], d["radiologist_id"]) for d in decisions] == [
        ("MANUAL", other_radiologist.id),
        ("PULL", reader.id),
    ]
    assert decisions[1]["id"] is None
    assert decisions[1]["trigger"] == "read_next"
    assert decisions[1]["trace"]["rule"] == READ_NEXT_RULE


def test_the_read_next_button_claims_and_opens_the_reading_page(reader, site_a, neuro, client):
    study = factories.ready_study(site_a, neuro)
    client.force_login(reader.user)

    response = client.post(reverse("worklist-next"))

    assert response.status_code == 302
    assert response["Location"] == reverse("reading", kwargs={"study_id": study.id})
    assert Study.objects.get(id=study.id).status == StudyStatus.ASSIGNED


def test_the_read_next_button_with_nothing_to_read_says_so(reader, client):
    client.force_login(reader.user)
    response = client.post(reverse("worklist-next"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("worklist")
    assert "Nothing for you to read now" in response.content.decode()


def test_the_worklist_shows_read_next_and_my_queue_to_a_radiologist(reader, site_a, neuro, client):
    mine = factories.ready_study(site_a, neuro, procedure_text="MR caput")
    factories.ready_study(site_a, neuro, procedure_text="CT thorax")
    from worklists.actors import Actor
    from worklists.services.claims import study_claim

    study_claim(study_id=mine.id, radiologist_id=reader.id, actor=Actor.system("t"))
    client.force_login(reader.user)

    html = client.get(reverse("worklist")).content.decode()

    assert "data-read-next" in html
    assert f'data-queue-study-id="{mine.id}"' in html
    assert "read-only" in html


def test_the_worklist_shows_coordinators_a_count_of_open_alerts_and_the_console_not_banners(
    site_a, neuro, coordinator, client
):
    for _ in range(3):
        study = factories.ready_study(site_a, neuro)
        CoordinatorAlert.objects.create(
            kind="routing.escalation",
            study=study,
            site=site_a,
            message="Deadline near",
            raised_at=study.ready_at,
        )
    client.force_login(coordinator)
    html = client.get(reverse("worklist")).content.decode()
    assert "3 open alerts" in html
    assert f'href="{reverse("console")}"' in html
    assert "Deadline near" not in html  # no pile of banners above the list
    assert "data-alert-kind" not in html
    assert "data-read-next" not in html  # a coordinator is not a reader


def test_the_study_page_shows_the_routing_trace_and_assign_form_to_coordinators(
    reader, site_a, neuro, coordinator, client
):
    from worklists.services.routing import study_route

    study = factories.ready_study(site_a, neuro)
    study_route(study_id=study.id, trigger="study.ready")
    client.force_login(coordinator)

    html = client.get(reverse("study", args=[study.id])).content.decode()
    assert "Routing decisions" in html
    assert "trace--eligible" in html
    assert reverse("study-assign", args=[study.id]) in html

    client.force_login(reader.user)
    html = client.get(reverse("study", args=[study.id])).content.decode()
    assert "Routing decisions" not in html
    assert reverse("study-release", args=[study.id]) in html  # the holder may release


def test_a_coordinator_reassigns_from_the_study_page_with_a_reason(
    reader, other_radiologist, site_a, neuro, coordinator, client
):
    study = factories.ready_study(site_a, neuro)
    client.force_login(coordinator)
    url = reverse("study-assign", args=[study.id])

    client.post(url, {"radiologist_id": reader.id, "reason": ""})
    assert Assignment.objects.count() == 0
    client.post(url, {"radiologist_id": reader.id, "reason": "first"})
    response = client.post(
        url, {"radiologist_id": other_radiologist.id, "reason": "second"}, follow=True
    )

    assert "Assigned to" in response.content.decode()
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == (
        other_radiologist.id
    )


def _database_settings(**env: str) -> dict:
    """DATABASES["default"] as teleradiology.settings makes it from the environment given."""
    code = (
        "import json, teleradiology.settings as s;"
        "print(json.dumps({k: s.DATABASES['default'].get(k) for k in"
        " ('CONN_MAX_AGE', 'OPTIONS')}))"
    )
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")},
        "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
        **env,
    }
    done = subprocess.run(  # noqa: S603 (our own interpreter, fixed code)
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_asgi_server_pools_connections_only_when_asked_and_never_keeps_them_per_thread():
    # Under ASGI each request has its own thread: a kept per-thread connection would pile up.
    plain = _database_settings()
    assert plain["CONN_MAX_AGE"] == 0
    assert "pool" not in (plain["OPTIONS"] or {})
    pooled = _database_settings(DATABASE_POOL_MAX_SIZE="8", DATABASE_CONN_MAX_AGE="60")
    assert pooled["CONN_MAX_AGE"] == 0
    assert pooled["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 8, "timeout": 10.0}


def test_next_by_personal_token_takes_a_fixed_number_of_queries(
    reader, site_a, neuro, django_assert_num_queries
):
    # Through the real token authentication (client_for skips it), which loads the radiologist.
    for _ in range(3):
        factories.ready_study(site_a, neuro)
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {personal_token_issue(user_id=reader.user_id).key}"
    )
    client.post(reverse("api-worklist-next"))  # the reader's pull scope is cached from here on

    # PostgreSQL: the token (with user and radiologist), whom the reader may see
    # (worklists.queries), the reader's first task in reading order (a peer review:
    # worklists.hooks), the claim, then the study, its identifiers and the audit row sent
    # together (one round trip). SQLite claims through the ORM (the routing rules in Python)
    # and reads through it.
    expected = 7 if connection.vendor == "postgresql" else 22
    with django_assert_num_queries(expected):
        response = client.post(reverse("api-worklist-next"))

    assert response.status_code == 200
    assert response.json()["study"]["status"] == StudyStatus.ASSIGNED
