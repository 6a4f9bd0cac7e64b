"""The capacity planner page (/console/planner/), for coordinators: pick a period, compare its
own roster with another, side by side. Thin: the form parses, ``capacity_plan`` replays."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from worklists.access import is_coordinator
from worklists.planner import present
from worklists.planner.forms import PlannerForm
from worklists.planner.plan import CapacityPlan, Schedule, capacity_plan
from worklists.planner.scenarios import AddedReader
from worklists.planner.selectors import latest_signed_ready_day
from worklists.services.shifts import ShiftImportError

ALL_MODALITIES = frozenset({"CT", "MR", "CR", "DX", "US", "MG", "NM", "PT"})


def _default_start() -> dt.date:
    """The last full week of signed studies: the latest period with something to replay."""
    last_day = latest_signed_ready_day() or timezone.localdate()
    return last_day - dt.timedelta(days=10)


@login_required
@require_http_methods(["GET", "POST"])
def planner_page(request: HttpRequest) -> HttpResponse:
    if not is_coordinator(request.user):
        raise PermissionDenied("Only coordinators plan capacity.")
    plan: CapacityPlan | None = None
    error = ""
    if request.method == "POST":
        form = PlannerForm(request.POST, request.FILES)
        if form.is_valid():
            starts_at, ends_at = form.period()
            upload = form.cleaned_data["roster"]
            schedule = Schedule(upload.read(), upload.name) if upload else None
            worklist = form.cleaned_data["worklist"]
            added = None
            if schedule is None and worklist is not None:
                added = AddedReader(
                    worklist_id=worklist.id,
                    worklist_name=worklist.name,
                    starts=dt.time(form.cleaned_data["from_hour"] % 24),
                    ends=dt.time(form.cleaned_data["to_hour"] % 24),
                    weekdays=frozenset(form.cleaned_data["weekdays"]),
                    modalities=ALL_MODALITIES,
                )
            try:
                plan = capacity_plan(
                    starts_at=starts_at, ends_at=ends_at, schedule=schedule, added=added
                )
            except ShiftImportError as exc:
                error = "; ".join(exc.errors[:10])
    else:
        form = PlannerForm(initial={"start": _default_start()})
    context: dict[str, object] = {"form": form, "plan": plan, "error": error}
    if plan is not None:
        context.update(
            outcomes=present.outcomes(plan),
            priority_rows=present.priority_rows(plan),
            reader_rows=present.reader_rows(plan),
            chart=present.queue_chart(plan),
            chart_width=present.CHART_WIDTH,
            chart_height=present.CHART_HEIGHT,
            backtest_median=present.percent(plan.backtest.median_error()),
            backtest_p90=present.percent(plan.backtest.p90_error()),
        )
    return render(request, "worklists/planner/planner.html", context)
