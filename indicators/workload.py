"""Work per reader per shift hour, and how fairly the work is spread (docs/indicators.md).

Grouped statements give one row per reader (and per worklist and reader); the spread between the
readers of a worklist is then taken over those few rows, not over studies."""

from __future__ import annotations

import dataclasses
import statistics
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, Sum, Value
from django.db.models.functions import Greatest, Least

from indicators.aggregates import SecondsBetween
from indicators.periods import Period
from indicators.rollup import signer_counts, signers
from indicators.scope import Viewer
from indicators.turnaround import signed_milestones
from worklists.models import Radiologist, Shift


def high_work_units() -> Decimal:
    """A study of at least this many work units counts as heavy (setting
    INDICATORS_HIGH_WORK_UNITS)."""
    return Decimal(str(getattr(settings, "INDICATORS_HIGH_WORK_UNITS", "2.00")))


def _shift_seconds(period: Period) -> Any:
    """A shift's seconds inside the period."""
    return SecondsBetween(
        Greatest(F("starts_at"), Value(period.start)), Least(F("ends_at"), Value(period.end))
    )


def shift_hours(period: Period) -> dict[int, float]:
    """Each reader's rostered hours inside the period."""
    rows = (
        Shift.objects.filter(starts_at__lt=period.end, ends_at__gt=period.start)
        .values("radiologist_id")
        .order_by()
        .annotate(seconds=Sum(_shift_seconds(period)))
    )
    return {row["radiologist_id"]: (row["seconds"] or 0.0) / 3600 for row in rows}


def shift_hours_per_worklist(period: Period) -> dict[tuple[int, int], float]:
    """Each (worklist, reader)'s rostered hours: a shift for several worklists counts whole
    for each of them (a reader on it may read any of them)."""
    rows = (
        Shift.objects.filter(
            starts_at__lt=period.end, ends_at__gt=period.start, worklists__isnull=False
        )
        .values("worklists", "radiologist_id")
        .order_by()
        .annotate(seconds=Sum(_shift_seconds(period)))
    )
    return {
        (row["worklists"], row["radiologist_id"]): (row["seconds"] or 0.0) / 3600 for row in rows
    }


def signed_work(viewer: Viewer, period: Period) -> dict[tuple[int | None, int], dict[str, Any]]:
    """Per (worklist, reader): studies signed final in the period (their first FINAL event, the
    one signature: a patient merge's event is none), their work units, the heavy and the STAT
    ones (worklist None: studies on no worklist). From the milestone rows, which carry the
    study's worklist, work units and priority (no join to the study table, docs/indicators.md
    "Speed"), counted per signer and work units; for a viewer of every site the closed days from
    their kept counts (indicators.rollup). One statement serves both the per-reader table and
    the spread per worklist; signers who are no readers are left out."""
    if viewer.site_ids is None:
        rows = signers(period)
    else:
        rows = list(signer_counts(signed_milestones(viewer, period)))
    readers = dict(
        Radiologist.objects.filter(user_id__in={row["signed_by_id"] for row in rows}).values_list(
            "user_id", "id"
        )
    )
    heavy_from = high_work_units()
    found: dict[tuple[int | None, int], dict[str, Any]] = {}
    for row in rows:
        reader = readers.get(row["signed_by_id"])
        if reader is None:
            continue
        total = found.setdefault(
            (row["worklist_id"], reader), {"signed": 0, "work_units": None, "heavy": 0, "stat": 0}
        )
        total["signed"] += row["signed"]
        total["stat"] += row["stat"]
        units = row["work_units"]
        if units is not None:
            total["work_units"] = (total["work_units"] or Decimal(0)) + units * row["signed"]
            if units >= heavy_from:
                total["heavy"] += row["signed"]
    return found


def reader_work(
    signed: dict[tuple[int | None, int], dict[str, Any]],
) -> dict[int, dict[str, Any]]:
    """Per reader, from ``signed_work``: the rows of all worklists added up."""
    readers: dict[int, dict[str, Any]] = {}
    for (_worklist, reader), row in signed.items():
        total = readers.setdefault(reader, {"signed": 0, "work_units": None, "heavy": 0, "stat": 0})
        for name in ("signed", "heavy", "stat"):
            total[name] += row[name]
        if row["work_units"] is not None:
            total["work_units"] = (total["work_units"] or Decimal(0)) + row["work_units"]
    return readers


def worklist_reader_work(
    signed: dict[tuple[int | None, int], dict[str, Any]],
) -> dict[tuple[int, int], Decimal]:
    """Per (worklist, reader), from ``signed_work``: the work units signed on that worklist."""
    return {
        (worklist, reader): row["work_units"]
        for (worklist, reader), row in signed.items()
        if worklist is not None
    }


@dataclasses.dataclass(frozen=True, slots=True)
class Spread:
    readers: int
    lowest: float | None
    median: float | None
    highest: float | None
    # The standard deviation over the mean: 0 when every reader does as much per hour.
    variation: float | None


def spread(rates: list[float]) -> Spread:
    if not rates:
        return Spread(0, None, None, None, None)
    mean = statistics.fmean(rates)
    variation = statistics.pstdev(rates) / mean if mean else None
    return Spread(len(rates), min(rates), statistics.median(rates), max(rates), variation)
