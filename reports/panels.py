"""Every version of a study's report, as a panel of the core's study page (registered in
ReportsConfig.ready)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from reports import double_reading_selectors as dr_selectors
from reports.selectors import report_state, report_state_read
from reports.services.audit import audit_report_reads
from worklists.models import Study
from worklists.services.audit import AccessContext


def study_report_panel(*, request: HttpRequest | None, study: Study) -> str:
    """The study must already be one the user may see (the page found it through the scoping
    function). Showing its report is a read of the report: the selector writes the audit row
    (report_state_read), the panel only renders it."""
    state = (
        report_state_read(study=study, context=AccessContext.from_request(request, channel="web"))
        if request is not None
        else report_state(study=study)  # no reader to audit: rendered outside a request
    )
    return render_to_string(
        "reports/_study_reports.html",
        {"state": state, "may_read_page": True, "request": request},
        request=request,
    )


def study_double_reading_panel(*, request: HttpRequest | None, study: Study) -> str:
    """The study's independent reads as the user may see them (blind until their own is
    signed); nothing for a study that is not double read. Showing a read is a report read,
    audited here."""
    if request is None:
        return ""
    view = dr_selectors.reads_for_viewer(study=study, user=request.user)
    if view.stage is None and view.case is None:
        return ""
    if view.reads:
        audit_report_reads(
            context=AccessContext.from_request(request, channel="web"), studies=[study]
        )
    return render_to_string(
        "reports/_double_reading.html",
        {
            "double_reading": view,
            "stage_label": dr_selectors.STAGE_LABELS.get(view.stage or "", ""),
        },
        request=request,
    )
