"""Every version of a study's report, as a panel of the core's study page (registered in
ReportsConfig.ready)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from reports.selectors import report_state
from reports.services.audit import audit_report_reads
from worklists.models import Study
from worklists.services.audit import AccessContext


def study_report_panel(*, request: HttpRequest | None, study: Study) -> str:
    """The study must already be one the user may see (the page found it through the scoping
    function); showing its report is a read of the report, and is audited as one."""
    state = report_state(study=study)
    if state.has_content and request is not None:
        audit_report_reads(
            context=AccessContext.from_request(request, channel="web"), studies=[study]
        )
    return render_to_string(
        "reports/_study_reports.html",
        {"state": state, "may_read_page": True, "request": request},
        request=request,
    )
