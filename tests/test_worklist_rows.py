"""GET /worklist/rows/<id>: one study's rows for a live worklist page, scoped and audited, and
the same row templates the page itself renders; and the reader's queue in reading order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.test_pages import tags
from worklists import selectors
from worklists.actors import Actor
from worklists.models import AuditEvent, StudyStatus
from worklists.services.studies import study_assign

pytestmark = pytest.mark.django_db


def row(client, study, **params: str):
    return client.get(reverse("worklist-row", args=[study.id]), params)


def test_it_gives_the_owner_the_studys_list_row_as_the_page_renders_it(
    client, owner, site_a, neuro
):
    study = factories.ready_study(site_a, neuro, procedure_text="CT caput uten kontrast")
    client.force_login(owner.user)

    response = row(client, study, tab="neuro")
    page = client.get(reverse("worklist"), {"tab": "neuro"})

    assert response.status_code == 200
    [answer] = tags(response, "div", data_live_study=str(study.id))
    assert answer
    [fragment_row] = tags(response, "tr", data_study_id=str(study.id))
    [page_row] = tags(page, "tr", data_study_id=str(study.id))
    assert fragment_row == page_row  # one template for the first load and for every update
    assert fragment_row["data-order"] == selectors.study_list_order_key(study)
    assert tags(response, "tr", data_queue_study_id="*") == []  # not in the owner's queue
    assert tags(response, "nav", id="worklist-tabs", hx_swap_oob="true")
    assert tags(response, "span", id="queue-count", hx_swap_oob="true")


def test_it_writes_an_audit_row_for_the_read(client, owner, site_a, neuro):
    study = factories.ready_study(site_a, neuro)
    client.force_login(owner.user)

    row(client, study, tab="neuro")

    audit = AuditEvent.objects.get(actor=owner.user, object_id=str(study.id))
    assert audit.action == AuditEvent.Action.STUDY_LIST


def test_another_radiologist_without_access_gets_404_and_no_row(client, outsider, site_a, neuro):
    study = factories.ready_study(site_a, neuro)
    client.force_login(outsider.user)

    response = row(client, study, tab="neuro")

    assert response.status_code == 404
    assert "data-study-id" not in response.content.decode()
    assert not AuditEvent.objects.filter(actor=outsider.user, object_id=str(study.id)).exists()


def test_an_anonymous_request_is_sent_to_the_login_page(client, site_a, neuro):
    study = factories.ready_study(site_a, neuro)

    response = row(client, study)

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_a_study_pushed_to_the_reader_comes_with_its_queue_row_and_count(
    client, owner, site_a, neuro
):
    study = factories.ready_study(site_a, neuro, priority="STAT")
    study_assign(study_id=study.id, radiologist_id=owner.id, actor=Actor.system("test"))
    client.force_login(owner.user)

    response = row(client, study, tab="neuro")

    [queue_row] = tags(response, "tr", data_queue_study_id=str(study.id))
    assert queue_row["data-urgent"] == "true"
    assert queue_row["data-order"] == selectors.reading_order_key(study)
    assert 'id="queue-count" hx-swap-oob="true">1<' in response.content.decode()


def test_another_reader_at_the_site_gets_the_list_row_but_no_queue_row(
    client, owner, other_radiologist, site_a, neuro
):
    study = factories.ready_study(site_a, neuro)
    study_assign(study_id=study.id, radiologist_id=owner.id, actor=Actor.system("test"))
    client.force_login(other_radiologist.user)

    response = row(client, study, tab="neuro")

    assert tags(response, "tr", data_study_id=str(study.id))
    assert tags(response, "tr", data_queue_study_id="*") == []


@pytest.mark.parametrize(
    "params", [{"tab": "thorax"}, {"tab": "neuro", "modality": "MR"}, {"tab": "neuro", "site": "x"}]
)
def test_a_study_outside_the_pages_filters_has_no_list_row(client, owner, site_a, neuro, params):
    study = factories.ready_study(site_a, neuro, modality="CT")
    client.force_login(owner.user)

    response = row(client, study, **params)

    assert response.status_code == 200
    assert tags(response, "div", data_live_study=str(study.id))
    assert tags(response, "tr", data_study_id="*") == []


def test_a_signed_study_leaves_the_unread_list(client, owner, site_a, neuro):
    study = factories.ready_study(site_a, neuro, status=StudyStatus.FINAL)
    client.force_login(owner.user)

    response = row(client, study, tab="neuro")

    assert tags(response, "tr", data_study_id="*") == []


def test_the_row_costs_a_bounded_number_of_queries(
    client, owner, site_a, neuro, django_assert_max_num_queries
):
    study = factories.ready_study(site_a, neuro)
    client.force_login(owner.user)
    row(client, study, tab="neuro")  # the session and the user are read once per request anyway

    # the tabs it swaps in mark the worklists the reader's shift covers: two of the 18
    with django_assert_max_num_queries(18):
        assert row(client, study, tab="neuro").status_code == 200


# --- the reader's queue in reading order ---------------------------------------------------------


def test_the_queue_on_the_worklist_page_is_in_reading_order_with_countdowns(
    client, owner, site_a, neuro
):
    now = timezone.now()
    routine_soon = factories.ready_study(
        site_a, neuro, priority="ROUTINE", deadline=now + dt.timedelta(minutes=20)
    )
    stat_later = factories.ready_study(
        site_a, neuro, priority="STAT", deadline=now + dt.timedelta(minutes=50)
    )
    stat_sooner = factories.ready_study(
        site_a, neuro, priority="STAT", deadline=now + dt.timedelta(minutes=30)
    )
    critical_routine = factories.ready_study(
        site_a, neuro, priority="ROUTINE", routing_rank=0, deadline=now + dt.timedelta(hours=9)
    )
    for study in (routine_soon, stat_later, stat_sooner, critical_routine):
        study_assign(study_id=study.id, radiologist_id=owner.id, actor=Actor.system("test"))
    client.force_login(owner.user)

    response = client.get(reverse("worklist"))

    queue = tags(response, "tr", data_queue_study_id="*")
    # rank (STAT and critical first), then deadline, then id: the order read next takes them in
    assert [int(r["data-queue-study-id"]) for r in queue] == [
        stat_sooner.id,
        stat_later.id,
        critical_routine.id,
        routine_soon.id,
    ]
    assert [r["data-order"] for r in queue] == sorted(r["data-order"] for r in queue)
    countdowns = tags(response, "span", data_deadline="*")
    assert len(countdowns) >= 4
    assert "in 29 min" in response.content.decode() or "in 30 min" in response.content.decode()
