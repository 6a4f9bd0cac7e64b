"""The snapshot of a report version owed to the site's RIS, written to the HL7 outbox."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import translation

from hl7_interface.models import OutboundMessage
from hl7_interface.outbox import (
    CriticalCommunication as DeliveredCommunication,
)
from hl7_interface.outbox import (
    ReportDelivery,
    ReportSection,
    outbox_enqueue_report,
)
from reports.models import CriticalCommunication, ReportVersion


def report_delivery_enqueue(*, version: ReportVersion, result_status: str) -> OutboundMessage:
    """Owe the site this version. Call inside the transaction that wrote it.

    Every confirmed critical-result communication of the study so far travels with it: the
    communication is part of the delivered report.
    """
    communications = list(
        CriticalCommunication.objects.filter(finding__study_id=version.study_id)
        .select_related("finding")
        .order_by("communicated_at", "id")
    )
    return outbox_enqueue_report(
        study_id=version.study_id,
        delivery=report_delivery_of(version, result_status, communications),
    )


def report_delivery_of(
    version: ReportVersion,
    result_status: str,
    communications: Sequence[CriticalCommunication] = (),
) -> ReportDelivery:
    """The snapshot of ``version`` as the RIS receives it, with the study's communications of
    critical results so far (``finding`` selected)."""
    categories = [c.finding.category for c in communications]
    category = version.critical_category or (categories[-1] if categories else "")
    # HL7 to the RIS stays in English, whatever the language of the page that signed.
    with translation.override("en"):
        methods = [str(c.get_method_display()) for c in communications]
    return ReportDelivery(
        report_version_id=version.id,
        version_number=version.number,
        result_status=result_status,
        sections=tuple(ReportSection(title=s["title"], text=s["text"]) for s in version.sections),
        signed_by_name=version.signer_name,
        signed_by_hpr=version.signer_hpr,
        signed_at=version.signed_at,
        correction_reason=version.reason,
        critical_finding_category=category,
        critical_communications=tuple(
            DeliveredCommunication(
                category=c.finding.category,
                communicated_to=c.communicated_to,
                method=method,
                communicated_at=c.communicated_at,
                read_back_confirmed=c.read_back_confirmed,
            )
            for c, method in zip(communications, methods, strict=True)
        ),
    )
