"""The privacy officer's page and its CSV export: parse the query, call worklists.privacy,
render. Both audit their own reading of the audit trail."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from worklists import privacy
from worklists.services.audit import AccessContext, audit_trail_read

PAGE_ROWS = 500
CSV_COLUMNS = [
    "at",
    "user",
    "role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "patient",
    "site",
    "channel",
    "address",
    "flags",
]


def _query(request: HttpRequest) -> tuple[privacy.AccessQuery, dict[str, str], list[str]]:
    """The query the page's form states, the form's values, and what was wrong with them."""
    errors = []
    default_start, default_end = privacy.default_period()
    values = {
        "patient": request.GET.get("patient", "").strip(),
        "user": request.GET.get("user", "").strip(),
        "start": request.GET.get("start", "").strip()
        or f"{timezone.localtime(default_start):%Y-%m-%d}",
        "end": request.GET.get("end", "").strip()
        or f"{timezone.localtime(default_end) - dt.timedelta(days=1):%Y-%m-%d}",
        "flagged": "1" if request.GET.get("flagged") else "",
    }
    start_day, end_day = parse_date(values["start"]), parse_date(values["end"])
    if start_day is None or end_day is None:
        errors.append(_("Dates are written YYYY-MM-DD; showing the last seven days."))
        start, end = default_start, default_end
    else:
        start = timezone.make_aware(dt.datetime.combine(start_day, dt.time()))
        end = timezone.make_aware(dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time()))
    patient_ids = (
        privacy.patients_matching(values["patient"], reader=request.user)
        if values["patient"]
        else None
    )
    if patient_ids is not None and not patient_ids:
        errors.append(_("No patient holds that number."))
    return (
        privacy.AccessQuery(
            start=start,
            end=end,
            patient_ids=patient_ids,
            username=values["user"],
            flagged_only=bool(values["flagged"]),
        ),
        values,
        errors,
    )


def _patient_of(patient_ids: frozenset[int] | None) -> int | None:
    return next(iter(patient_ids)) if patient_ids and len(patient_ids) == 1 else None


@login_required
def privacy_page(request: HttpRequest) -> HttpResponse:
    try:
        query, values, errors = _query(request)
        report = privacy.access_report(query, reader=request.user)
    except privacy.NotPrivacyOfficer as exc:
        raise PermissionDenied(str(exc)) from exc
    audit_trail_read(
        context=AccessContext.from_request(request, channel="web"),
        what=f"privacy page {query.describe()}",
        patient_id=_patient_of(query.patient_ids),
    )
    return render(
        request,
        "worklists/privacy.html",
        {
            "values": values,
            "errors": errors,
            "rows": report.rows[:PAGE_ROWS],
            "total": len(report.rows),
            "more": len(report.rows) > PAGE_ROWS or report.truncated,
            "heavy_users": report.heavy_users,
            "csv_query": request.GET.urlencode(),
        },
    )


@login_required
def privacy_csv(request: HttpRequest) -> HttpResponse:
    try:
        query, _values, _errors = _query(request)
        report = privacy.access_report(query, reader=request.user)
    except privacy.NotPrivacyOfficer as exc:
        raise PermissionDenied(str(exc)) from exc
    audit_trail_read(
        context=AccessContext.from_request(request, channel="web"),
        what=f"privacy csv {query.describe()}",
        patient_id=_patient_of(query.patient_ids),
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="access.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        event = row.event
        writer.writerow(
            [
                timezone.localtime(event.at).isoformat(),
                event.actor_label,
                row.role,
                event.action,
                event.object_type,
                event.object_id,
                event.patient_id or "",
                event.patient.display_name if event.patient else "",
                event.site.code if event.site else "",
                event.channel,
                event.remote_addr or "",
                "; ".join(row.flags),
            ]
        )
    return response
