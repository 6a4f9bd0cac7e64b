"""The indicators page and its CSV downloads. Thin: parse the query, call the selector, shape."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from indicators import charts, sections
from indicators.periods import PeriodInvalid, default_period
from indicators.query import Query, groupings_for, parse_query
from indicators.scope import viewer_of
from indicators.selectors import indicators
from indicators.tables import table_csv

# The query's inputs as the form labels them: an error names the input the reader sees.
FIELD_LABELS = {
    "from": gettext_lazy("From"),
    "to": gettext_lazy("To"),
    "group_by": gettext_lazy("Grouped by"),
}


@login_required
@require_GET
def indicators_page(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request.user)
    error = None
    try:
        query = parse_query(request.GET, viewer)
    except PeriodInvalid as exc:
        error = exc
        query = parse_query({}, viewer)
    result = indicators(viewer=viewer, period=query.period, group_by=query.group_by)
    shown = [
        table
        for table in result.tables
        if table.key != "sites" and not sections.is_section_table(table.key)
    ]
    sites = result.table("sites")
    context = {
        "query": query,
        "params": urlencode(Query(query.period, result.group_by).as_params()),
        "groupings": groupings_for(viewer),
        "group_by": result.group_by,
        "sites": sites,
        "tables": shown,
        "sections": sections.shown_sections(result.tables),
        "site_charts": charts.site_charts(
            sites,
            turnaround_title=_("Ready → final, median per site"),
            deadline_title=_("Signed within deadline, per site"),
            regional=_("Region"),
        ),
        "priority_chart": charts.priority_chart(
            result.table("priorities"), title=_("Signed within deadline, per priority")
        ),
        "default_period": default_period(),
        "error": error,
        "error_field": FIELD_LABELS.get(error.field, error.field) if error else "",
        "given": request.GET,
    }
    return render(request, "indicators/indicators.html", context, status=400 if error else 200)


@login_required
@require_GET
def indicators_csv(request: HttpRequest, table: str) -> HttpResponse:
    viewer = viewer_of(request.user)
    try:
        query = parse_query(request.GET, viewer)
    except PeriodInvalid as exc:
        return HttpResponse(f"{exc.field}: {exc}\n", status=400, content_type="text/plain")
    result = indicators(viewer=viewer, period=query.period, group_by=query.group_by)
    found = [t for t in result.tables if t.key == table]
    if not found:
        raise Http404(_("no table %(table)s") % {"table": table})
    name = f"{table}-{query.period.first_day}-{query.period.last_day}-{result.group_by}.csv"
    response = HttpResponse(table_csv(found[0]), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
