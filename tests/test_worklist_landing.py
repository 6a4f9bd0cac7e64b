"""Where a user lands: a reader, after login and at /, on a worklist their shift covers now;
everyone else on the first worklist with unread studies. An explicit tab always wins."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories
from worklists import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def msk(db):
    # After neuro in the tab order, so that "first with unread" alone would pick neuro.
    return factories.WorklistFactory(code="msk", name="Muskel og skjelett", display_order=200)


@pytest.fixture
def unread_everywhere(site_a, neuro, msk, general_worklist):
    neuro.display_order = 10
    neuro.save(update_fields=["display_order"])
    factories.ready_study(site_a, neuro)
    factories.ready_study(site_a, msk)


def landing_tab(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("worklist"))
    assert response.status_code == 200
    return response.context["tab"]


def test_a_reader_lands_on_the_worklist_their_shift_covers_now(
    owner, msk, unread_everywhere, client
):
    factories.competence(owner, msk)
    factories.shift(owner, worklists=(msk,))

    assert landing_tab(client, owner.user) == "msk"


def test_a_worklist_read_as_primary_comes_before_one_read_as_backup(
    owner, msk, unread_everywhere, client
):
    factories.competence(owner, msk, level="BACKUP")
    factories.shift(owner)  # no worklists named: every competence

    assert landing_tab(client, owner.user) == "neuro"


def test_a_covered_worklist_with_unread_studies_comes_before_an_empty_one(
    owner, site_a, neuro, msk, client
):
    factories.competence(owner, msk, level="BACKUP")
    factories.shift(owner)
    factories.ready_study(site_a, msk)  # neuro (primary) has nothing unread

    assert landing_tab(client, owner.user) == "msk"


def test_a_worklist_the_reader_is_not_competent_in_is_not_theirs_whatever_the_shift_says(
    owner, msk, unread_everywhere, client
):
    factories.shift(owner, worklists=(msk,))  # no competence in msk

    assert selectors.reader_shift_worklists(radiologist_id=owner.id, now=timezone.now()) == {}
    assert landing_tab(client, owner.user) == "neuro"  # the first with unread studies


def test_a_shift_that_has_ended_or_not_begun_does_not_count(owner, msk, unread_everywhere, client):
    factories.competence(owner, msk)
    now = timezone.now()
    factories.shift(
        owner,
        worklists=(msk,),
        starts_at=now - dt.timedelta(hours=9),
        ends_at=now - dt.timedelta(hours=1),
    )
    factories.shift(
        owner,
        worklists=(msk,),
        starts_at=now + dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=9),
    )

    assert selectors.reader_shift_worklists(radiologist_id=owner.id, now=now) == {}
    assert landing_tab(client, owner.user) == "neuro"


def test_a_coordinator_lands_on_the_first_worklist_with_unread_studies(
    coordinator, unread_everywhere, client
):
    assert landing_tab(client, coordinator) == "neuro"


def test_an_explicit_tab_wins(owner, msk, unread_everywhere, client):
    factories.competence(owner, msk)
    factories.shift(owner, worklists=(msk,))
    client.force_login(owner.user)

    assert client.get(reverse("worklist") + "?tab=neuro").context["tab"] == "neuro"


def test_the_tabs_mark_the_worklists_the_shift_covers(owner, msk, unread_everywhere, client):
    factories.competence(owner, msk)
    factories.shift(owner, worklists=(msk,))
    client.force_login(owner.user)

    html = client.get(reverse("worklist")).content.decode()

    assert html.count("tab--on-shift") == 1
    msk_tab = html[html.index('data-tab="msk"') - 300 : html.index('data-tab="msk"')]
    assert "tab--on-shift" in msk_tab


def test_after_login_and_at_the_root_a_reader_lands_on_their_worklist(
    owner, msk, unread_everywhere, client
):
    factories.competence(owner, msk)
    factories.shift(owner, worklists=(msk,))

    response = client.post(
        reverse("login"),
        {"username": "owner", "password": factories.PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("worklist")
    assert response.context["tab"] == "msk"
    root = client.get("/", follow=True)
    assert root.context["tab"] == "msk"
