"""GET /api/v1/studies and /api/v1/studies/{id}: scoped, filtered, keyset-paged and audited;
a study shows its low-value flag."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests import factories
from worklists.actors import Actor
from worklists.models import AuditEvent, LowValueRule, SiteApiToken, StudyStatus
from worklists.services.low_value import study_flag_low_value_locked
from worklists.services.studies import study_assign, study_mark_ready

pytestmark = pytest.mark.django_db

LIST = "/api/v1/studies"


_births = itertools.count()


def make_study(**kwargs):
    """A study whose patient has a birth date of its own, so synthetic FNRs never collide."""
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=next(_births))
    return factories.StudyFactory(patient__birth_date=birth, **kwargs)


def detail(study_id: int) -> str:
    return f"{LIST}/{study_id}"


def ids(response) -> list[int]:
    return [row["id"] for row in response.data["results"]]


@pytest.fixture
def study_a(site_a):
    return make_study(site=site_a)


@pytest.fixture
def study_b(site_b):
    return make_study(site=site_b)


# --- scoping -------------------------------------------------------------------------------


def test_a_radiologist_lists_only_the_sites_they_are_credentialed_for(
    client_for, owner, study_a, study_b
):
    response = client_for(owner.user).get(LIST)

    assert response.status_code == 200
    assert ids(response) == [study_a.id]


def test_a_radiologist_can_open_a_study_of_their_site(client_for, owner, study_a):
    response = client_for(owner.user).get(detail(study_a.id))

    assert response.status_code == 200
    assert response.data["id"] == study_a.id
    assert response.data["site"] == {"code": "alfa", "name": "Alfa sjukehus"}


def test_the_outsider_lists_only_their_own_site(client_for, outsider, study_a, study_b):
    response = client_for(outsider.user).get(LIST)

    assert response.status_code == 200
    assert ids(response) == [study_b.id]


def test_the_outsider_gets_404_not_403_for_another_sites_study(client_for, outsider, study_a):
    response = client_for(outsider.user).get(detail(study_a.id))

    assert response.status_code == 404
    # Nothing was shown; the attempt is on record (test_privacy_audit).
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["study.refused"]


def test_an_unknown_study_id_is_404(client_for, coordinator):
    assert client_for(coordinator).get(detail(999_999)).status_code == 404


def test_a_site_user_sees_only_their_own_site(client_for, site_user, study_a, study_b):
    client = client_for(site_user)

    assert ids(client.get(LIST)) == [study_a.id]
    assert client.get(detail(study_a.id)).status_code == 200
    assert client.get(detail(study_b.id)).status_code == 404


def test_a_coordinator_sees_every_site(client_for, coordinator, study_a, study_b):
    client = client_for(coordinator)

    assert sorted(ids(client.get(LIST))) == sorted([study_a.id, study_b.id])
    assert client.get(detail(study_b.id)).status_code == 200


def test_a_user_with_neither_credential_nor_membership_sees_nothing(client_for, study_a):
    client = client_for(factories.UserFactory())

    assert ids(client.get(LIST)) == []
    assert client.get(detail(study_a.id)).status_code == 404


@pytest.mark.parametrize("url", [LIST, f"{LIST}/1"])
def test_anonymous_is_refused(api_client, study_a, url):
    response = api_client.get(url)

    assert response.status_code == 401
    assert not AuditEvent.objects.exists()


def test_a_site_integration_token_cannot_read_studies(site_a, study_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {SiteApiToken.objects.create(site=site_a).key}")

    assert client.get(LIST).status_code == 403
    assert client.get(detail(study_a.id)).status_code == 403


@pytest.mark.parametrize(
    "problem",
    ["expired-yesterday", "revoked", "not-yet-valid"],
)
def test_an_invalid_credential_gives_no_access(client_for, site_a, study_a, problem):
    today = timezone.localdate()
    credential_kwargs = {
        "expired-yesterday": {"valid_until": today - dt.timedelta(days=1)},
        "revoked": {"revoked_at": timezone.now()},
        "not-yet-valid": {"valid_from": today + dt.timedelta(days=1)},
    }[problem]
    rad = factories.RadiologistFactory()
    factories.credential(rad, site_a, **credential_kwargs)
    client = client_for(rad.user)

    assert ids(client.get(LIST)) == []
    assert client.get(detail(study_a.id)).status_code == 404


def test_a_credential_expiring_today_still_gives_access(client_for, site_a, study_a):
    rad = factories.RadiologistFactory()
    factories.credential(rad, site_a, valid_until=timezone.localdate())

    assert ids(client_for(rad.user).get(LIST)) == [study_a.id]


def test_an_inactive_radiologist_sees_nothing(client_for, owner, study_a):
    owner.is_active = False
    owner.save()

    assert ids(client_for(owner.user).get(LIST)) == []


# --- filters -------------------------------------------------------------------------------


@pytest.fixture
def mixed(site_a, site_b, neuro, general_worklist):
    """Studies that differ in one attribute each, all visible to a coordinator."""
    return {
        "ct_ready": make_study(
            site=site_a, status=StudyStatus.READY, worklist=neuro, modality="CT", priority="STAT"
        ),
        "mr_assigned": make_study(
            site=site_a, status=StudyStatus.ASSIGNED, worklist=neuro, modality="MR"
        ),
        "cr_ordered": make_study(
            site=site_a, status=StudyStatus.ORDERED, modality="CR", priority="URGENT"
        ),
        "us_b_ready": make_study(
            site=site_b,
            status=StudyStatus.READY,
            worklist=general_worklist,
            is_unclassified=True,
            modality="US",
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=READY", {"ct_ready", "us_b_ready"}),
        ("status=READY,ORDERED", {"ct_ready", "us_b_ready", "cr_ordered"}),
        ("site=bravo", {"us_b_ready"}),
        ("site=alfa", {"ct_ready", "mr_assigned", "cr_ordered"}),
        ("worklist=neuro", {"ct_ready", "mr_assigned"}),
        ("modality=MR", {"mr_assigned"}),
        ("modality=CT,US", {"ct_ready", "us_b_ready"}),
        ("priority=STAT,URGENT", {"ct_ready", "cr_ordered"}),
        ("unclassified=true", {"us_b_ready"}),
        ("site=alfa&status=READY,ASSIGNED&modality=CT", {"ct_ready"}),
        ("site=nowhere", set()),
    ],
)
def test_the_list_filters(client_for, coordinator, mixed, query, expected):
    response = client_for(coordinator).get(f"{LIST}?{query}")

    assert response.status_code == 200, response.data
    assert set(ids(response)) == {mixed[name].id for name in expected}


def test_filters_never_widen_the_scope(client_for, owner, mixed):
    response = client_for(owner.user).get(f"{LIST}?site=bravo")

    assert response.status_code == 200
    assert ids(response) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=READY,DONE", "status"),
        ("status=ready", "status"),
        ("modality=XR", "modality"),
        ("priority=ASAP", "priority"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
    ],
)
def test_an_unknown_filter_value_is_400_with_a_field_error(client_for, coordinator, query, field):
    response = client_for(coordinator).get(f"{LIST}?{query}")

    assert response.status_code == 400
    assert field in response.data["errors"]
    assert not AuditEvent.objects.exists()


def test_the_unknown_status_error_names_the_value_and_the_choices(client_for, coordinator):
    response = client_for(coordinator).get(f"{LIST}?status=READY,DONE")

    message = str(response.data["errors"]["status"][0])
    assert "DONE" in message
    assert "READY" in message


# --- ordering and cursor pagination --------------------------------------------------------


@pytest.fixture
def five_by_deadline(site_a):
    """Five site A studies; their expected order: deadline ascending, ties by id, nulls last."""
    base = timezone.now() + dt.timedelta(hours=1)
    late = make_study(site=site_a, deadline=base + dt.timedelta(hours=5))
    no_deadline = make_study(site=site_a, deadline=None)
    tie_1 = make_study(site=site_a, deadline=base + dt.timedelta(hours=2))
    soon = make_study(site=site_a, deadline=base)
    tie_2 = make_study(site=site_a, deadline=base + dt.timedelta(hours=2))
    return [soon.id, tie_1.id, tie_2.id, late.id, no_deadline.id]


def test_the_list_is_ordered_by_deadline_nulls_last_then_id(client_for, owner, five_by_deadline):
    response = client_for(owner.user).get(LIST)

    assert ids(response) == five_by_deadline
    assert response.data["next"] is None


def test_following_next_links_returns_every_study_once_in_deadline_order(
    client_for, owner, five_by_deadline
):
    client = client_for(owner.user)
    seen: list[int] = []
    pages = []
    url: str | None = f"{LIST}?page_size=2"
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.data
        assert set(response.data) == {"next", "results"}  # no count: keyset paging
        pages.append(len(response.data["results"]))
        seen.extend(ids(response))
        url = response.data["next"]

    assert pages == [2, 2, 1]
    assert seen == five_by_deadline


def test_next_links_keep_the_filters(client_for, coordinator, site_a, site_b):
    for _ in range(3):
        make_study(site=site_a, status=StudyStatus.READY)
        make_study(site=site_b, status=StudyStatus.READY)
    client = client_for(coordinator)

    first = client.get(f"{LIST}?site=alfa&page_size=2")
    second = client.get(first.data["next"])

    assert "site=alfa" in first.data["next"]
    assert len(ids(first)) + len(ids(second)) == 3
    assert second.data["next"] is None
    assert {row["site"]["code"] for row in [*first.data["results"], *second.data["results"]]} == {
        "alfa"
    }


def test_a_page_that_exactly_fills_has_no_next(client_for, owner, site_a):
    make_study(site=site_a)
    make_study(site=site_a)

    response = client_for(owner.user).get(f"{LIST}?page_size=2")

    assert len(ids(response)) == 2
    assert response.data["next"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "e30",
        "W10",
        "eyJkIjogNSwgImkiOiAxfQ",
        "eyJkIjogIjIwMjYtMTEtMjZUMTA6MDA6MDAiLCAiaSI6IDF9",  # a deadline without its UTC offset
    ],
)
def test_a_bad_cursor_is_400(client_for, owner, study_a, cursor):
    response = client_for(owner.user).get(f"{LIST}?cursor={cursor}")

    assert response.status_code == 400
    assert "cursor" in response.data["errors"]


def test_the_list_query_count_does_not_grow_with_the_page(client_for, owner, site_a):
    client = client_for(owner.user)

    def count_queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"{LIST}?page_size=50")
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.data["results"])

    for _ in range(5):
        make_study(site=site_a)
    small, small_rows = count_queries()
    for _ in range(15):
        make_study(site=site_a, worklist=factories.WorklistFactory())
    large, large_rows = count_queries()

    assert (small_rows, large_rows) == (5, 20)
    assert small == large


@pytest.mark.parametrize("studies", [5, 20, 60])
def test_the_list_takes_a_fixed_number_of_queries_whatever_the_page_holds(
    client_for, owner, site_a, django_assert_num_queries, studies
):
    for _ in range(studies):
        make_study(site=site_a)
    client = client_for(owner.user)

    # Scope (coordinator?, memberships and credentials in one), dated page, undated page (these
    # studies have no deadline yet), identifiers, one audit insert.
    with django_assert_num_queries(5):
        response = client.get(LIST)
    assert len(ids(response)) == min(studies, 50)


def test_the_detail_takes_a_bounded_number_of_queries(
    client_for, owner, study_a, django_assert_max_num_queries
):
    client = client_for(owner.user)

    with django_assert_max_num_queries(8):
        response = client.get(detail(study_a.id))
    assert response.status_code == 200


# --- audit ---------------------------------------------------------------------------------


def test_opening_a_study_writes_one_view_audit_event(client_for, owner, study_a):
    response = client_for(owner.user).get(detail(study_a.id))

    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert event.action == AuditEvent.Action.STUDY_VIEW
    assert event.actor == owner.user
    assert event.actor_label == "owner"
    assert event.patient_id == study_a.patient_id
    assert event.site_id == study_a.site_id
    assert event.channel == "api"
    assert event.object_type == "study"
    assert event.object_id == str(study_a.id)
    assert event.path == detail(study_a.id)
    assert event.remote_addr == "127.0.0.1"


def test_listing_writes_one_list_audit_event_per_returned_study(client_for, owner, site_a):
    studies = [make_study(site=site_a) for _ in range(3)]

    response = client_for(owner.user).get(f"{LIST}?page_size=2")

    returned = ids(response)
    assert len(returned) == 2
    events = AuditEvent.objects.order_by("object_id")
    assert sorted(e.object_id for e in events) == sorted(str(i) for i in returned)
    by_id = {s.id: s for s in studies}
    for event in events:
        study = by_id[int(event.object_id)]
        assert event.action == AuditEvent.Action.STUDY_LIST
        assert event.actor == owner.user
        assert event.patient_id == study.patient_id
        assert event.site_id == site_a.id
        assert event.channel == "api"


def test_an_empty_list_writes_no_audit_event(client_for, owner, study_b):
    response = client_for(owner.user).get(LIST)

    assert ids(response) == []
    assert not AuditEvent.objects.exists()


# --- content -------------------------------------------------------------------------------


def test_the_list_shows_the_patient_with_identifiers(client_for, owner, study_a):
    row = client_for(owner.user).get(LIST).data["results"][0]

    identifier = study_a.patient.identifiers.get()
    assert row["patient"]["id"] == study_a.patient_id
    assert row["patient"]["identifiers"] == [
        {"kind": "FNR", "value": identifier.value, "authority": "NO-FREG"}
    ]
    assert row["accession_number"] == study_a.accession_number
    assert row["procedure"]["code"] == "NCRP-CT-HEAD"
    assert row["viewer_url"].endswith(study_a.study_instance_uid)


def test_the_detail_shows_events_and_who_holds_the_study(client_for, owner, study_a):
    actor = Actor.system("test")
    study_mark_ready(study_id=study_a.id, actor=actor)
    study_assign(study_id=study_a.id, radiologist_id=owner.id, actor=actor)

    response = client_for(owner.user).get(detail(study_a.id))

    assert response.status_code == 200
    assert response.data["status"] == "ASSIGNED"
    assert response.data["assigned_to"]["radiologist_id"] == owner.id
    assert response.data["assigned_to"]["name"] == owner.display_name
    assert [(e["from_status"], e["to_status"]) for e in response.data["events"]] == [
        ("ORDERED", "READY"),
        ("READY", "ASSIGNED"),
    ]
    assert {e["actor"] for e in response.data["events"]} == {"system:test"}
    assert response.data["deadline"] is not None
    assert response.data["worklist"] is not None


def test_the_detail_of_an_unassigned_study_has_no_holder(client_for, owner, study_a):
    response = client_for(owner.user).get(detail(study_a.id))

    assert response.data["assigned_to"] is None
    assert response.data["events"] == []


# --- the low-value flag --------------------------------------------------------------------


@pytest.fixture
def back_pain_rule(db):
    return LowValueRule.objects.create(
        name="Example: MR for non-specific low back pain",
        text="Eksempel: ikke MR ved uspesifikke korsryggsmerter.",
        modality="MR",
        question_words="rygg",
    )


def flagged_study(site, rule):
    study = make_study(site=site, modality="MR", clinical_question="Korsryggsmerter.")
    assert study_flag_low_value_locked(study, actor=Actor.system("intake"), at=timezone.now())
    return study


def test_a_flagged_study_shows_its_rule_and_text_and_an_unflagged_one_null(
    client_for, owner, site_a, back_pain_rule, study_a
):
    flagged = flagged_study(site_a, back_pain_rule)
    client = client_for(owner.user)

    rows = {row["id"]: row for row in client.get(LIST).data["results"]}
    shown = client.get(detail(flagged.id)).data

    expected = {
        "rule_name": "Example: MR for non-specific low back pain",
        "text": "Eksempel: ikke MR ved uspesifikke korsryggsmerter.",
    }
    assert rows[flagged.id]["low_value_flag"] == expected
    assert shown["low_value_flag"] == expected
    assert rows[study_a.id]["low_value_flag"] is None


def test_the_flag_keeps_its_text_when_the_rule_is_edited_or_deleted(
    client_for, owner, site_a, back_pain_rule
):
    flagged = flagged_study(site_a, back_pain_rule)
    back_pain_rule.text = "Rewritten later."
    back_pain_rule.name = "Renamed"
    back_pain_rule.save()
    client = client_for(owner.user)

    edited = client.get(detail(flagged.id)).data["low_value_flag"]
    back_pain_rule.delete()
    deleted = client.get(detail(flagged.id)).data["low_value_flag"]

    assert edited == {
        "rule_name": "Renamed",
        "text": "Eksempel: ikke MR ved uspesifikke korsryggsmerter.",
    }
    assert deleted == {
        "rule_name": None,
        "text": "Eksempel: ikke MR ved uspesifikke korsryggsmerter.",
    }


def test_flagged_studies_take_no_more_list_queries(
    client_for, owner, site_a, back_pain_rule, django_assert_num_queries
):
    for _ in range(7):
        flagged_study(site_a, back_pain_rule)
    client = client_for(owner.user)

    # as test_the_list_takes_a_fixed_number_of_queries_whatever_the_page_holds: the rule is
    # joined to the page's rows
    with django_assert_num_queries(5):
        response = client.get(LIST)
    assert [row["low_value_flag"]["rule_name"] for row in response.data["results"]] == [
        back_pain_rule.name
    ] * 7
