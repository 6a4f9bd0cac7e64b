"""Surge on the pages: the console's form and End button, and the one line on the worklist for
everyone who sees a surged worklist."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories
from worklists.actors import Actor
from worklists.models import Surge
from worklists.services.surges import surge_start

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def in_two_hours() -> str:
    return (timezone.localtime() + 2 * HOUR).strftime("%H:%M")


def start(coordinator, worklist, **kwargs):
    params = {
        "actor": Actor.for_user(coordinator),
        "worklist_id": worklist.id if worklist else None,
        "tier": None,
        "reason": "CT outage at Alfa",
        "ends_at": timezone.now() + 2 * HOUR,
    }
    params.update(kwargs)
    return surge_start(**params)


def test_a_coordinator_starts_a_surge_from_the_console_and_sees_who_why_and_when(
    client, neuro, coordinator
):
    client.force_login(coordinator)
    form = client.get(reverse("console")).content.decode()
    assert 'name="reason"' in form
    assert '<option value="neuro">Nevroradiologi</option>' in form

    answer = client.post(
        reverse("console-surge-start"),
        {"worklist": "neuro", "tier": "", "until": in_two_hours(), "reason": "CT outage at Alfa"},
        HTTP_HX_REQUEST="true",
    )

    html = answer.content.decode()
    surge = Surge.objects.get()
    assert (surge.worklist_id, surge.tier, surge.started_by_id) == (neuro.id, 1, coordinator.pk)
    assert "Surge started: Nevroradiologi to backup readers until" in html
    panel = html[html.index('id="console-surges"') :]
    assert f'data-surge-id="{surge.id}"' in panel
    assert "CT outage at Alfa" in panel
    assert "coord, " in panel
    assert reverse("console-surge-end", args=[surge.id]) in panel


def test_a_surge_without_a_reason_is_refused_on_the_page_and_nothing_starts(
    client, neuro, coordinator
):
    client.force_login(coordinator)
    answer = client.post(
        reverse("console-surge-start"),
        {"worklist": "", "until": in_two_hours(), "reason": " "},
        HTTP_HX_REQUEST="true",
    )
    assert "Say why: a surge needs a reason." in answer.content.decode()
    assert not Surge.objects.exists()


def test_the_end_button_ends_it_and_it_moves_to_the_ended_ones(client, neuro, coordinator):
    surge = start(coordinator, neuro)
    client.force_login(coordinator)

    answer = client.post(reverse("console-surge-end", args=[surge.id]))

    assert answer.status_code == 302
    surge.refresh_from_db()
    assert (surge.end_reason, surge.ended_by_id) == ("ended", coordinator.pk)
    html = client.get(reverse("console")).content.decode()
    assert f'data-ended-surge-id="{surge.id}"' in html
    assert f'data-surge-id="{surge.id}"' not in html


def test_others_may_neither_start_nor_end_a_surge_from_the_page(
    client, neuro, coordinator, owner, site_user
):
    surge = start(coordinator, neuro)
    for user in (owner.user, site_user):
        client.force_login(user)
        start_answer = client.post(
            reverse("console-surge-start"),
            {"worklist": "", "until": in_two_hours(), "reason": "mine"},
        )
        assert start_answer.status_code == 403
        assert client.post(reverse("console-surge-end", args=[surge.id])).status_code == 403
    assert Surge.objects.count() == 1
    assert Surge.objects.get().ended_at is None


def test_everyone_who_sees_the_worklist_sees_one_line_for_its_surges(
    client, site_a, neuro, coordinator, owner, site_user
):
    msk = factories.WorklistFactory(code="msk", name="Muskel og skjelett")
    factories.ready_study(site_a, neuro)
    start(coordinator, neuro, reason="CT outage at Alfa")
    start(coordinator, None, tier=1, reason="flu season")

    for user in (owner.user, site_user, coordinator):
        client.force_login(user)
        html = client.get(reverse("worklist"), {"tab": "neuro"}).content.decode()
        assert html.count("data-surge-line") == 1, user
        line = html[
            html.index("data-surge-line") : html.index("</p>", html.index("data-surge-line"))
        ]
        assert "Nevroradiologi to backup readers until" in line
        assert "CT outage at Alfa" in line
        assert "all worklists to backup readers until" in line
    # another worklist's tab shows the surge of every worklist only
    other = client.get(reverse("worklist"), {"tab": msk.code}).content.decode()
    assert "flu season" in other
    assert "CT outage at Alfa" not in other


def test_a_surge_past_its_end_time_is_not_shown(client, neuro, coordinator, owner):
    now = timezone.now()
    start(coordinator, neuro, now=now - 2 * HOUR, ends_at=now - dt.timedelta(minutes=1))
    client.force_login(owner.user)
    assert (
        "data-surge-line" not in client.get(reverse("worklist"), {"tab": "neuro"}).content.decode()
    )
    client.force_login(coordinator)
    assert 'id="console-surges"' in client.get(reverse("console")).content.decode()
    assert 'class="console-surge"' not in client.get(reverse("console")).content.decode()
