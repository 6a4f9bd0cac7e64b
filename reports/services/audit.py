"""Reads of reports go on the audit trail, like reads of studies."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from worklists.models import AuditEvent, Study
from worklists.services.audit import AccessContext


def audit_report_reads(*, context: AccessContext, studies: Iterable[Study]) -> int:
    """One ``report.view`` row per study whose report was shown, in one statement."""
    now = timezone.now()
    rows = [
        AuditEvent(
            at=now,
            actor_id=context.user_id,
            actor_label=context.actor_label,
            action=AuditEvent.Action.REPORT_VIEW,
            object_type="report",
            object_id=str(study.id),
            patient_id=study.patient_id,
            site_id=study.site_id,
            channel=context.channel,
            remote_addr=context.remote_addr,
            path=context.path,
        )
        for study in studies
    ]
    AuditEvent.objects.bulk_create(rows)
    return len(rows)
