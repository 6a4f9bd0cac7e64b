"""The site portal's pages: the list (by state, searchable, live), one study's report, and the
CSV of a period. Parse, call the selectors, audit what is shown, render."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from reports.portal import export, selectors
from reports.portal.forms import PortalQueryForm
from reports.portal.selectors import PortalAccess, PortalFilters, PortalRow
from reports.portal.states import ALL_LABEL, LABELS, PortalState
from reports.selectors import report_state_read
from worklists.errors import NotFound
from worklists.models import AuditEvent, Site
from worklists.services.audit import AccessContext, audit_refused_read, audit_study_reads


def _access(request: HttpRequest) -> PortalAccess | HttpResponse:
    """The portal's site for this user, or the answer for a user who has none: a radiologist
    back to the worklist with the reason, an unknown site 404."""
    try:
        return selectors.portal_access(user=request.user, site_code=request.GET.get("site", ""))
    except selectors.NotASiteUser as exc:
        messages.error(request, str(exc))
        return redirect("worklist")
    except NotFound as exc:
        raise Http404(str(exc)) from exc


def audit_rows(request: HttpRequest, rows: list[PortalRow], *, channel: str) -> None:
    """A listed study is a read of it; a returned referral's reason and comment shown with it
    are a read of its report."""
    context = AccessContext.from_request(request, channel=channel)
    audit_study_reads(
        context=context, studies=[r.study for r in rows], action=AuditEvent.Action.STUDY_LIST
    )
    returned = [r.study for r in rows if r.rejection is not None]
    if returned:
        audit_study_reads(
            context=context,
            studies=returned,
            action=AuditEvent.Action.REPORT_VIEW,
            object_type="report",
        )


@login_required
@require_GET
def portal_page(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    if isinstance(access, HttpResponse):
        return access
    if access.site is None:
        return render(
            request, "reports/portal/choose_site.html", {"sites": Site.objects.order_by("name")}
        )
    site = access.site
    now = timezone.now()
    form = PortalQueryForm.from_query(request.GET)
    filters = form.filters(site=site, now=now)
    cursor = None
    if token := request.GET.get("cursor"):
        try:
            cursor = selectors.Cursor.decode(token)
        except selectors.InvalidPortalCursor:
            cursor = None
    counts = selectors.portal_counts(access=access, filters=filters)
    rows, following = selectors.portal_rows(
        access=access, filters=filters, cursor=cursor, limit=selectors.PAGE_SIZE
    )
    audit_rows(request, rows, channel="web")
    return render(
        request,
        "reports/portal/portal.html",
        {
            "site": site,
            "access": access,
            "sites": Site.objects.order_by("name") if access.is_coordinator else [],
            "form": form,
            "filters": filters,
            "tabs": _tabs(request, site, filters, counts),
            "total": sum(counts.values()),
            "rows": rows,
            "next_query": _query(
                request, site, filters, state=filters.state, cursor=following.encode()
            )
            if following
            else "",
            "csv_query": _query(request, site, filters, state=filters.state),
            "now": now,
            "now_ms": int(now.timestamp() * 1000),
            "zone": site.zone,
        },
    )


def _query(
    request: HttpRequest,
    site: Site,
    filters: PortalFilters,
    *,
    state: PortalState | None,
    cursor: str = "",
) -> str:
    """The page's query string for these filters, in another state or at another page."""
    params = {
        "site": site.code if request.GET.get("site") else "",
        "state": state.value if state is not None else "",
        "from": filters.date_from.isoformat() if filters.date_from else "",
        "to": filters.date_to.isoformat() if filters.date_to else "",
        "q": filters.q,
        "cursor": cursor,
    }
    return urlencode({k: v for k, v in params.items() if v})


def _tabs(
    request: HttpRequest, site: Site, filters: PortalFilters, counts: dict[PortalState, int]
) -> list[dict[str, object]]:
    tabs: list[dict[str, object]] = [
        {
            "key": "",
            "label": ALL_LABEL,
            "count": sum(counts.values()),
            "active": filters.state is None,
            "query": _query(request, site, filters, state=None),
        }
    ]
    for state in PortalState:
        tabs.append(
            {
                "key": state.value,
                "label": LABELS[state],
                "count": counts[state],
                "active": filters.state == state,
                "query": _query(request, site, filters, state=state),
            }
        )
    return tabs


@login_required
@require_GET
def portal_report(request: HttpRequest, study_id: int) -> HttpResponse:
    """One study of the site with its report as signed (every version, the returned referral)
    and what was delivered to the site's RIS. Audited: the study and its report read."""
    access = _access(request)
    if isinstance(access, HttpResponse):
        return access
    context = AccessContext.from_request(request, channel="web")
    study = (
        access.studies().select_related("site", "patient", "worklist").filter(id=study_id).first()
    )
    if study is None:
        audit_refused_read(context=context, study_id=study_id)
        raise Http404("No such study")
    audit_study_reads(context=context, studies=[study], action=AuditEvent.Action.STUDY_VIEW)
    state = report_state_read(study=study, context=context)
    (row,) = selectors.rows_of([study], site_id=study.site_id)
    return render(
        request,
        "reports/portal/report.html",
        {
            "study": study,
            "row": row,
            "state": state,
            "site_query": urlencode({"site": study.site.code}) if access.is_coordinator else "",
            "zone": study.site.zone,
        },
    )


@login_required
@require_GET
def portal_csv(request: HttpRequest) -> HttpResponse:
    """The list as filtered (every page of it) as CSV, times on the site's clock; every study in
    it audited as listed."""
    access = _access(request)
    if isinstance(access, HttpResponse):
        return access
    if access.site is None:
        raise Http404("Choose a site")
    site = access.site
    filters = PortalQueryForm.from_query(request.GET).filters(site=site, now=timezone.now())
    rows = list(selectors.all_rows(access=access, filters=filters))
    audit_rows(request, rows, channel="web")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{export.filename(site=site, filters=filters)}"'
    )
    writer = csv.writer(response)
    writer.writerow(export.COLUMNS)
    for row in rows:
        writer.writerow(export.csv_values(row, zone=site.zone))
    return response
