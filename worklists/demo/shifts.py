"""The demo's shifts: every demo radiologist is on shift whenever the demo runs.

Each run ends the demo shifts of earlier runs and opens one from an hour ago to eleven hours from
now, covering every worklist the radiologist is competent in and every site they are
credentialed for. So "Read next" works for rad01..rad20 right after `make run`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q

from worklists.models import Radiologist, Shift

DEMO_SOURCE = "demo"


def ensure_shifts(radiologists: list[Radiologist], *, now: dt.datetime) -> int:
    """Open a current shift for each demo radiologist; returns how many were opened."""
    ids = [r.id for r in radiologists]
    demo = Shift.objects.filter(radiologist_id__in=ids, source=DEMO_SOURCE)
    # Shifts of earlier runs that are still on end now; those in the past stay as history.
    demo.filter(Q(starts_at__lte=now) & Q(ends_at__gt=now)).update(ends_at=now)
    demo.filter(starts_at__gt=now).delete()
    Shift.objects.bulk_create(
        Shift(
            radiologist_id=rid,
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=11),
            role=Shift.Role.PRIMARY,
            target_work_units=Decimal("30"),
            source=DEMO_SOURCE,
        )
        for rid in ids
    )
    return len(ids)
