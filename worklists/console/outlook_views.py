"""The capacity outlook's pages: its own page (/console/outlook) and the console's panel, a
fragment the console loads by itself so its live refreshes do not recompute the outlook.
Thin: parse, call the selector, shape; a non-coordinator gets 403 from the selector."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from worklists import capacity
from worklists.console.outlook import CapacityOutlook, WorklistOutlook, capacity_outlook
from worklists.errors import NotPermitted


@dataclass(frozen=True, slots=True)
class DayRow:
    """One local day of a worklist's week: its hours by local hour of the day (a DST day has 23
    or 25; the repeated hour of an autumn night is shown as the hour it repeats)."""

    day: dt.date
    cells: list[capacity.HourOutlook | None]  # index: local hour 0..23
    capacity: float
    inflow: float
    short_hours: int


def week_rows(worklist: WorklistOutlook) -> list[DayRow]:
    days: dict[dt.date, list[capacity.HourOutlook]] = {}
    for hour in worklist.hours:
        days.setdefault(hour.starts_at.date(), []).append(hour)
    rows = []
    for day, hours in days.items():
        cells: list[capacity.HourOutlook | None] = [None] * 24
        for hour in hours:
            current = cells[hour.starts_at.hour]
            # The autumn night's repeated hour: a short one shows, else the later.
            if current is None or hour.is_short or not current.is_short:
                cells[hour.starts_at.hour] = hour
        rows.append(
            DayRow(
                day=day,
                cells=cells,
                capacity=sum(h.capacity for h in hours),
                inflow=sum(h.inflow for h in hours),
                short_hours=sum(1 for h in hours if h.is_short),
            )
        )
    return rows


def _outlook(request: HttpRequest, hours: int) -> CapacityOutlook:
    try:
        return capacity_outlook(user=request.user, hours=hours)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc


@login_required
@require_GET
def outlook_page(request: HttpRequest) -> HttpResponse:
    week = request.GET.get("view") == "week"
    view = _outlook(request, 7 * 24 if week else 24)
    return render(
        request,
        "worklists/console/outlook.html",
        {
            "outlook": view,
            "week": week,
            "weeks": [(w, week_rows(w)) for w in view.worklists] if week else [],
            "clock_hours": range(24),
        },
    )


@login_required
@require_GET
def outlook_panel(request: HttpRequest) -> HttpResponse:
    return render(
        request, "worklists/console/_outlook_panel.html", {"outlook": _outlook(request, 24)}
    )
