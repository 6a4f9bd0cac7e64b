"""The coordinator's worklist columns: who holds each study, when they opened it, and a flag for
"assigned, not opened, past half its turnaround". Radiologists do not get them; the page costs
the same statements however many rows it shows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.test_pages import tags
from worklists.console.holding import untouched_past_half
from worklists.models import Assignment, StudyEvent, StudyStatus

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def _held(reader, site, worklist, *, ready_at, deadline, assigned_at, status=StudyStatus.ASSIGNED):
    study = factories.StudyFactory(
        site=site,
        worklist=worklist,
        status=status,
        images_available=True,
        ready_at=ready_at,
        deadline=deadline,
    )
    Assignment.objects.create(
        study=study, radiologist=reader, kind=Assignment.Kind.PUSH, assigned_at=assigned_at
    )
    return study


def test_the_flag_rises_at_half_the_turnaround_and_not_a_moment_before():
    ready = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
    deadline = ready + 4 * H
    half = ready + 2 * H

    def flag(now, *, held=True, opened=False):
        return untouched_past_half(
            held=held, opened=opened, ready_at=ready, deadline=deadline, now=now
        )

    assert not flag(half - dt.timedelta(seconds=1))
    assert flag(half)
    assert flag(half + M)
    assert not flag(half + M, opened=True)  # the holder opened it
    assert not flag(half + M, held=False)  # nobody holds it: the at-risk list's business


def test_a_coordinator_sees_holder_opened_and_the_flag(client, coordinator, owner, site_a, neuro):
    now = timezone.now()
    past_half = _held(
        owner, site_a, neuro, ready_at=now - 2 * H - M, deadline=now + 2 * H, assigned_at=now - H
    )
    before_half = _held(
        owner,
        site_a,
        neuro,
        ready_at=now - 2 * H,
        deadline=now + 2 * H + 2 * M,
        assigned_at=now - H,
    )
    opened = _held(
        owner,
        site_a,
        neuro,
        ready_at=now - 3 * H,
        deadline=now + H,
        assigned_at=now - 50 * M,
        status=StudyStatus.IN_PROGRESS,
    )
    StudyEvent.objects.create(
        study=opened, from_status="ASSIGNED", to_status="IN_PROGRESS", at=now - 40 * M
    )
    free = factories.ready_study(site_a, neuro)
    client.force_login(coordinator)

    page = client.get(reverse("worklist"), {"tab": "neuro"})

    html = page.content.decode()
    assert '<th scope="col">Holder</th>' in html
    assert '<th scope="col">Opened</th>' in html
    flagged = {row["data-study-id"] for row in tags(page, "tr", data_untouched="true")}
    assert flagged == {str(past_half.id)}
    assert str(before_half.id) not in flagged
    assert str(opened.id) not in flagged
    opened_row = html.split(f'data-study-id="{opened.id}"')[1].split("</tr>")[0]
    assert owner.display_name in opened_row
    local = timezone.localtime(now - 40 * M)
    assert f'datetime="{local.isoformat(timespec="seconds")}"' in opened_row or (
        f"{local:%H:%M}" in opened_row
    )
    free_row = html.split(f'data-study-id="{free.id}"')[1].split("</tr>")[0]
    assert 'class="col-holder"><span class="muted">—' in free_row


def test_a_radiologist_gets_no_holder_columns(client, owner, other_radiologist, site_a, neuro):
    now = timezone.now()
    _held(
        other_radiologist,
        site_a,
        neuro,
        ready_at=now - 3 * H,
        deadline=now + H,
        assigned_at=now - H,
    )
    client.force_login(owner.user)

    html = client.get(reverse("worklist"), {"tab": "neuro"}).content.decode()

    assert "col-holder" not in html
    assert '<th scope="col">Holder</th>' not in html
    assert 'data-untouched="true"' not in html


def test_the_live_row_of_a_coordinator_carries_the_same_columns_as_the_page(
    client, coordinator, owner, site_a, neuro
):
    now = timezone.now()
    study = _held(owner, site_a, neuro, ready_at=now - 3 * H, deadline=now + H, assigned_at=now - H)
    client.force_login(coordinator)

    fragment = client.get(reverse("worklist-row", args=[study.id]), {"tab": "neuro"})
    page = client.get(reverse("worklist"), {"tab": "neuro"})

    [fragment_row] = tags(fragment, "tr", data_study_id=str(study.id))
    [page_row] = tags(page, "tr", data_study_id=str(study.id))
    assert fragment_row == page_row
    assert fragment_row["data-untouched"] == "true"


def test_the_coordinators_worklist_costs_the_same_queries_however_many_rows(
    client, coordinator, owner, other_radiologist, site_a, neuro
):
    now = timezone.now()
    client.force_login(coordinator)
    _held(owner, site_a, neuro, ready_at=now - 3 * H, deadline=now + H, assigned_at=now - H)
    client.get(reverse("worklist"), {"tab": "neuro"})  # warm: the session, the content types
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("worklist"), {"tab": "neuro"}).status_code == 200

    for n in range(8):
        reader = owner if n % 2 else other_radiologist
        study = _held(
            reader,
            site_a,
            neuro,
            ready_at=now - 3 * H,
            deadline=now + H + n * M,
            assigned_at=now - H,
        )
        StudyEvent.objects.create(
            study=study, from_status="ASSIGNED", to_status="IN_PROGRESS", at=now - 30 * M
        )
        factories.ready_study(site_a, neuro)
    with CaptureQueriesContext(connection) as big:
        assert client.get(reverse("worklist"), {"tab": "neuro"}).status_code == 200

    assert len(big.captured_queries) == len(small.captured_queries)
