"""The reports side of the demo's history (``seed_demo --history-days``): the critical findings
of some signed history reports, with their communication, and the returned referrals.

Rows as the reports services write them: a critical finding flagged when its report was signed
and communicated by phone minutes later, read back; a returned referral's row beside the
REJECTED event the reader's return wrote (its reason is the event's, by label).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence

from django.utils import translation

from reports.models import (
    CommunicationMethod,
    CriticalCategory,
    CriticalCommunication,
    CriticalFinding,
    ReferralRejection,
    RejectionReason,
    ReportVersion,
)
from worklists.demo.extensions import DemoContext
from worklists.demo.history_rows import HISTORY_MARK
from worklists.models import Radiologist, Study, StudyEvent, StudyStatus

# Of the history's STAT and urgent reports, the share with a critical finding; and of those,
# how soon it was communicated (minutes).
CRITICAL_SHARE = 0.06
CRITICAL_CATEGORIES = (CriticalCategory.RED, CriticalCategory.ORANGE, CriticalCategory.ORANGE)


def is_history(study: Study) -> bool:
    return HISTORY_MARK in study.accession_number


def critical_category(study: Study, rng: random.Random) -> str:
    """Whether the demo report of ``study`` reports a critical finding (history studies only)."""
    if not is_history(study) or study.priority not in ("STAT", "URGENT"):
        return ""
    if rng.random() >= CRITICAL_SHARE:
        return ""
    return str(rng.choice(CRITICAL_CATEGORIES))


def record_critical_findings(
    versions: Sequence[ReportVersion], signer: Mapping[int, Radiologist]
) -> int:
    findings: list[CriticalFinding] = []
    communicated: list[tuple[CriticalFinding, dt.datetime]] = []
    for version in versions:
        rng = random.Random(f"critical-{version.study.accession_number}")  # noqa: S311
        delay = rng.uniform(2, 25) if version.critical_category == "RED" else rng.uniform(10, 150)
        at = version.signed_at + dt.timedelta(minutes=delay)
        finding = CriticalFinding(
            version=version,
            study=version.study,
            category=version.critical_category,
            flagged_at=version.signed_at,
            communicated_at=at,
        )
        findings.append(finding)
        communicated.append((finding, at))
    CriticalFinding.objects.bulk_create(findings, batch_size=500)
    CriticalCommunication.objects.bulk_create(
        [
            CriticalCommunication(
                finding=finding,
                communicated_to=finding.study.referring_physician or "Rekvirerende lege",
                method=CommunicationMethod.PHONE,
                communicated_at=at,
                read_back_confirmed=True,
                recorded_by_id=signer[finding.study_id].user_id,
                recorded_at=at,
            )
            for finding, at in communicated
        ],
        batch_size=500,
    )
    return len(findings)


def record_returned_referrals(context: DemoContext) -> int:
    """A returned-referral row for each history study a reader returned that has none."""
    with translation.override("en"):
        codes = {str(reason.label): str(reason.value) for reason in RejectionReason}
    returned = StudyEvent.objects.filter(
        study__site__in=context.sites.values(),
        study__accession_number__contains=HISTORY_MARK,
        study__referral_rejection__isnull=True,
        to_status=StudyStatus.REJECTED,
        actor__isnull=False,
    ).select_related("study")
    readers = {
        r.user_id: r for r in Radiologist.objects.filter(user__isnull=False).only("id", "user_id")
    }
    rows = [
        ReferralRejection(
            study=event.study,
            site_id=event.study.site_id,
            reason=codes.get(event.reason, RejectionReason.OTHER),
            comment="" if event.reason in codes else event.reason,
            rejected_by=readers[event.actor_id],
            rejected_at=event.at,
        )
        for event in returned
        if event.actor_id in readers
    ]
    ReferralRejection.objects.bulk_create(rows, batch_size=500)
    return len(rows)
