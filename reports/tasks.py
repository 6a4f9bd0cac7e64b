from __future__ import annotations

from celery import shared_task

from reports.services.critical import critical_findings_escalate


@shared_task(ignore_result=True)
def escalate_critical_findings() -> int:
    """Periodic: alert coordinators to critical findings nobody has communicated in time.
    Idempotent: each finding is escalated once, by compare-and-set."""
    return critical_findings_escalate()
