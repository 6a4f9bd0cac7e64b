"""Who holds each study of a worklist page and whether they opened it: the coordinator's
columns of the worklist (holder, opened at, and a flag for a study assigned, not opened, past
half its turnaround). Two statements for the whole page, however many rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from worklists.console.scope import opened_at_of
from worklists.models import Assignment, Radiologist, Study


@dataclass(frozen=True, slots=True)
class Holding:
    holder: Radiologist | None
    assigned_at: dt.datetime | None
    opened_at: dt.datetime | None  # by this holder (an opening under an earlier one is not)
    untouched_past_half: bool


def untouched_past_half(
    *,
    held: bool,
    opened: bool,
    ready_at: dt.datetime | None,
    deadline: dt.datetime | None,
    now: dt.datetime,
) -> bool:
    """Assigned, not opened by its holder, and at or past the middle of its turnaround (from
    ready to deadline): someone has it, and nobody is reading it."""
    if not held or opened or ready_at is None or deadline is None:
        return False
    return now >= ready_at + (deadline - ready_at) / 2


def with_holding(rows: list[Study], *, now: dt.datetime) -> list[Study]:
    """Set each study's ``holding``. The studies are ones the caller may see (its rows)."""
    held = {
        a.study_id: a
        for a in Assignment.objects.filter(
            study_id__in=[s.id for s in rows], ended_at__isnull=True
        ).select_related("radiologist__user")
    }
    opened = opened_at_of(held)
    for study in rows:
        assignment = held.get(study.id)
        opened_at = opened.get(study.id)
        if assignment is not None and opened_at is not None and opened_at < assignment.assigned_at:
            opened_at = None  # opened under an earlier holder
        study.holding = Holding(  # type: ignore[attr-defined]
            holder=assignment.radiologist if assignment else None,
            assigned_at=assignment.assigned_at if assignment else None,
            opened_at=opened_at if assignment else None,
            untouched_past_half=untouched_past_half(
                held=assignment is not None,
                opened=opened_at is not None,
                ready_at=study.ready_at,
                deadline=study.deadline,
                now=now,
            ),
        )
    return rows
