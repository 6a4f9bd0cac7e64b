"""The console's figures against values worked out by hand (tests/console_support.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.console_support import operation
from worklists.console import selectors
from worklists.services.alerts import NotACoordinator

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


@pytest.fixture
def op(site_a, site_b, neuro, owner):
    return operation(site_a=site_a, site_b=site_b, neuro=neuro, owner=owner)


def test_the_load_board_shows_readers_on_shift_next_and_flags_one_off_shift_with_a_queue(
    op, coordinator
):
    board = selectors.load_board(user=coordinator, now=op.now)

    # off shift with a study in the queue first, then on shift, then next; nobody else
    assert [r.radiologist.id for r in board] == [op.off_shift.id, op.on_shift.id, op.next_up.id]
    off, on, nxt = board

    assert off.off_shift_with_queue
    assert (off.on_shift, off.queue_count, off.queue_work_units) == (False, 1, Decimal("1.0"))
    assert off.idle_since == op.now - 3 * H

    assert on.on_shift
    assert not on.off_shift_with_queue
    assert (on.shift_started_at, on.shift_ends_at) == (op.now - 2 * H, op.now + 6 * H)
    # queue: late (2.0, open) + calm (1.5)
    assert (on.queue_count, on.queue_work_units) == (2, Decimal("3.5"))
    # signed since the shift began: 2.5 + 1.0 (not the 4.0 before it, not the released 3.0)
    assert on.done_work_units == Decimal("3.5")
    assert (on.target_work_units, on.carried_deficit_work_units) == (Decimal("10"), Decimal("1.5"))
    assert on.done_share == pytest.approx(0.35)
    assert on.open_study == op.late
    assert on.opened_at == op.now - 12 * M
    assert on.idle_since == op.now - 7 * M
    assert on.competences == [("Nevroradiologi", "PRIMARY"), ("Muskel og skjelett", "BACKUP")]
    assert on.site_codes == ["alfa"]  # the revoked credential at bravo is not a site

    assert (nxt.on_shift, nxt.next_shift_at, nxt.queue_count) == (False, op.now + 3 * H, 0)
    assert nxt.done_work_units == Decimal("0")
    assert not nxt.off_shift_with_queue


def test_the_backlog_per_worklist_and_site_counts_units_oldest_at_risk_and_overdue(op, coordinator):
    backlog = selectors.backlog(user=coordinator, now=op.now)

    lines = {line.key: line for line in backlog.worklists}
    neuro, msk = lines["neuro"], lines["msk"]
    # neuro: soon (1.5, at risk: 30 min left) + late (2.0, overdue); signed studies not unread
    assert (neuro.unread, neuro.work_units, neuro.at_risk, neuro.overdue) == (
        2,
        Decimal("3.5"),
        1,
        1,
    )
    assert neuro.oldest_ready_at == op.now - 3 * H
    # msk: calm (1.5, 20 h of 24 left: fine) + waiting (1.0, 5 h of 48 left: at risk by share)
    assert (msk.unread, msk.work_units, msk.at_risk, msk.overdue) == (2, Decimal("2.5"), 1, 0)
    assert msk.oldest_ready_at == op.now - 43 * H

    sites = {line.key: line for line in backlog.sites}
    assert (sites["alfa"].unread, sites["alfa"].work_units, sites["alfa"].overdue) == (
        2,
        Decimal("3.5"),
        1,
    )
    assert (sites["bravo"].unread, sites["bravo"].at_risk) == (2, 1)
    total = backlog.total
    assert (total.unread, total.work_units, total.at_risk, total.overdue) == (
        4,
        Decimal("6.0"),
        2,
        1,
    )


def test_the_at_risk_list_runs_by_time_left_with_holder_opened_and_idle(op, coordinator):
    rows = selectors.studies_at_risk(user=coordinator, now=op.now)

    assert [r.study.id for r in rows] == [op.late.id, op.soon.id, op.waiting.id]
    late, soon, waiting = rows
    assert (late.risk, late.holder, late.opened_at) == ("overdue", op.on_shift, op.now - 12 * M)
    assert late.holder_idle_since == op.now - 7 * M
    assert (soon.risk, soon.holder, soon.opened_at) == ("at_risk", None, None)
    assert (waiting.risk, waiting.holder, waiting.opened_at) == ("at_risk", op.off_shift, None)
    assert waiting.assigned_at == op.now - 2 * H


def test_figures_are_for_coordinators_only(op, owner, site_user):
    for user in (owner.user, site_user):
        for read in (selectors.load_board, selectors.backlog, selectors.studies_at_risk):
            with pytest.raises(NotACoordinator):
                read(user=user, now=op.now)
