"""A small operation for the console's tests, with figures worked out by hand (see the test
modules): two worklists at two sites, a reader on shift, one starting later, one off shift who
still holds a study."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from tests import factories
from worklists.models import (
    Assignment,
    Competence,
    Radiologist,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
    Worklist,
)


@dataclass
class Operation:
    now: dt.datetime
    on_shift: Radiologist  # "owner"
    next_up: Radiologist
    off_shift: Radiologist
    soon: Study  # READY, 30 min left: at risk by time left, nobody holds it
    late: Study  # IN_PROGRESS at on_shift's, 10 min overdue, opened 12 min ago
    calm: Study  # ASSIGNED to on_shift, 20 h left of 24 h: not at risk
    waiting: Study  # ASSIGNED to off_shift, 5 h left of 48 h: at risk by share


def _study(site: Site, worklist: Worklist, now: dt.datetime, **kwargs: object) -> Study:
    return factories.StudyFactory.create(
        site=site, worklist=worklist, images_available=True, **kwargs
    )


def _hold(study: Study, reader: Radiologist, at: dt.datetime, **kwargs: object) -> Assignment:
    return Assignment.objects.create(
        study=study, radiologist=reader, kind=Assignment.Kind.PUSH, assigned_at=at, **kwargs
    )


def operation(*, site_a: Site, site_b: Site, neuro: Worklist, owner: Radiologist) -> Operation:
    now = timezone.now()
    msk = factories.WorklistFactory.create(code="msk", name="Muskel og skjelett", display_order=200)
    neuro.display_order = 100
    neuro.save(update_fields=["display_order"])
    h = dt.timedelta(hours=1)
    m = dt.timedelta(minutes=1)

    # The reader on shift: two hours in, target 10 WU, 1.5 WU carried from the last shift.
    reader = owner
    reader.last_active_at = now - 7 * m
    reader.save(update_fields=["last_active_at"])
    Competence.objects.create(radiologist=reader, worklist=msk, level="BACKUP")
    factories.credential(reader, site_b, revoked_at=now - 24 * h)  # revoked: not listed
    factories.shift(
        reader,
        starts_at=now - 2 * h,
        ends_at=now + 6 * h,
        target_work_units=Decimal("10"),
        carried_deficit_work_units=Decimal("1.5"),
    )
    # Signed this shift: 2.5 + 1.0. Signed before the shift (4.0) and released (3.0): not done.
    for units, ended, reason in (
        ("2.5", now - 1 * h, "signed"),
        ("1.0", now - 30 * m, "signed"),
        ("4.0", now - 3 * h, "signed"),
        ("3.0", now - 20 * m, "released: lunch"),
    ):
        signed = _study(
            site_a,
            neuro,
            now,
            status=StudyStatus.FINAL,
            work_units=Decimal(units),
            ready_at=now - 5 * h,
            deadline=now + 5 * h,
        )
        _hold(signed, reader, ended - 10 * m, ended_at=ended, end_reason=reason)

    next_up = factories.RadiologistFactory.create(user__username="next", user__last_name="Berg")
    factories.credential(next_up, site_a)
    factories.competence(next_up, neuro)
    factories.shift(next_up, starts_at=now + 3 * h, ends_at=now + 11 * h)
    # starts in 20 h: not on the board
    far = factories.RadiologistFactory.create(user__username="far")
    factories.shift(far, starts_at=now + 20 * h, ends_at=now + 28 * h)
    gone = factories.RadiologistFactory.create(user__username="gone")  # ended, holds nothing
    factories.shift(gone, starts_at=now - 9 * h, ends_at=now - 1 * h)

    off_shift = factories.RadiologistFactory.create(
        user__username="offshift", user__last_name="Aas", last_active_at=now - 3 * h
    )
    factories.credential(off_shift, site_b)
    factories.competence(off_shift, msk)

    soon = _study(
        site_a,
        neuro,
        now,
        status=StudyStatus.READY,
        work_units=Decimal("1.5"),
        ready_at=now - 1 * h,
        deadline=now + 30 * m,
        priority="URGENT",
    )
    late = _study(
        site_a,
        neuro,
        now,
        status=StudyStatus.IN_PROGRESS,
        work_units=Decimal("2.0"),
        ready_at=now - 3 * h,
        deadline=now - 10 * m,
        priority="STAT",
    )
    _hold(late, reader, now - 40 * m)
    StudyEvent.objects.create(
        study=late, from_status="ASSIGNED", to_status="IN_PROGRESS", at=now - 12 * m
    )
    # an earlier opening, under an earlier holder: the latest one counts
    StudyEvent.objects.create(
        study=late, from_status="ASSIGNED", to_status="IN_PROGRESS", at=now - 2 * h
    )
    calm = _study(
        site_b,
        msk,
        now,
        status=StudyStatus.ASSIGNED,
        work_units=Decimal("1.5"),
        ready_at=now - 4 * h,
        deadline=now + 20 * h,
    )
    _hold(calm, reader, now - 50 * m)
    waiting = _study(
        site_b,
        msk,
        now,
        status=StudyStatus.ASSIGNED,
        work_units=Decimal("1.0"),
        ready_at=now - 43 * h,
        deadline=now + 5 * h,
    )
    _hold(waiting, off_shift, now - 2 * h)
    return Operation(
        now=now,
        on_shift=reader,
        next_up=next_up,
        off_shift=off_shift,
        soon=soon,
        late=late,
        calm=calm,
        waiting=waiting,
    )
