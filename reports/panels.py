"""Every version of a study's report, as a panel of the core's study page (registered in
ReportsConfig.ready)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from reports.selectors import report_state, report_state_read
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
