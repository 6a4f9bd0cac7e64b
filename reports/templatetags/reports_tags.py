"""``{% report_versions study %}``: every version of a study's report, for the study page."""

from __future__ import annotations

from typing import Any

from django import template

from reports.selectors import report_state
from reports.services.audit import audit_report_reads
from worklists.models import Study
from worklists.services.audit import AccessContext

register = template.Library()


@register.inclusion_tag("reports/_study_reports.html", takes_context=True)
def report_versions(context: template.Context, study: Study) -> dict[str, Any]:
    """The study must already be one the user may see (the page found it through the scoping
    function); showing its report is a read of the report, and is audited as one."""
    state = report_state(study=study)
    request = context.get("request")
    if state.has_content and request is not None:
        audit_report_reads(
            context=AccessContext.from_request(request, channel="web"), studies=[study]
        )
    return {"state": state, "may_read_page": True, "request": request}
