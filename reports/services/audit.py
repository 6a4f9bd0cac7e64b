"""Reads of reports go on the audit trail, like reads of studies."""

from __future__ import annotations

from collections.abc import Iterable

from worklists.models import AuditEvent, Study
from worklists.services.audit import AccessContext, audit_study_reads


def audit_report_reads(*, context: AccessContext, studies: Iterable[Study]) -> int:
    """One ``report.view`` row per study whose report was shown, in one statement."""
    return audit_study_reads(
        context=context,
        studies=studies,
        action=AuditEvent.Action.REPORT_VIEW,
        object_type="report",
    )
