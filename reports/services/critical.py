"""Critical findings: recording their communication, and escalating the ones nobody has told."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from reports.models import CriticalCommunication, CriticalFinding
from reports.services.delivery import report_delivery_enqueue
from reports.services.errors import NotPermitted, ReportStateConflict
from reports.services.signing import CommunicationInput, critical_communication_add_locked
from worklists.access import is_coordinator
from worklists.actors import Actor
from worklists.models import CoordinatorAlert, Study
from worklists.services.alerts import AlertAlreadyResolved, alert_raise, alert_resolve

logger = logging.getLogger(__name__)

ALERT_KIND = "report.critical_uncommunicated"


@transaction.atomic
def critical_communication_record(
    *, study_id: int, user: AbstractBaseUser, communication: CommunicationInput
) -> CriticalCommunication:
    """Record that the study's open critical finding was communicated.

    The signer of the finding or a coordinator records it. One with read-back confirmed
    completes the finding: the coordinators' alert is resolved and the report is delivered
    again (C) with the communication in it.
    """
    try:
        study = Study.objects.select_for_update(of=("self",)).get(id=study_id)
    except Study.DoesNotExist as exc:
        raise NotPermitted(f"no study {study_id}") from exc
    finding = (
        CriticalFinding.objects.filter(study=study)
        .select_related("version__signed_by")
        # The open one (no communication yet) first, on every database.
        .order_by(F("communicated_at").asc(nulls_first=True), "-flagged_at")
        .first()
    )
    if finding is None:
        raise ReportStateConflict(_("this study's report has no critical finding"))
    if finding.version.signed_by.user_id != user.pk and not is_coordinator(user):
        raise NotPermitted(
            _(
                "only the radiologist who signed the finding or a coordinator records its "
                "communication"
            )
        )
    was_open = finding.communicated_at is None
    record = critical_communication_add_locked(
        finding=finding, user=user, communication=communication
    )
    if was_open and finding.communicated_at is not None:
        open_alerts = CoordinatorAlert.objects.filter(
            kind=ALERT_KIND, study_id=study.id, resolved_at__isnull=True
        )
        for alert_id in open_alerts.values_list("id", flat=True):
            # A coordinator may have closed it meanwhile.
            with contextlib.suppress(AlertAlreadyResolved):
                alert_resolve(
                    alert_id=alert_id,
                    actor=Actor.for_user(user),
                    resolution=f"communicated to {record.communicated_to}",
                )
        latest = study.report_versions.order_by("-number").first()
        if latest is not None:
            report_delivery_enqueue(version=latest, result_status="C")
    return record


def critical_findings_escalate(*, now: dt.datetime | None = None) -> int:
    """Raise a coordinator alert for each critical finding still not communicated after
    REPORTS_CRITICAL_COMMUNICATION_MINUTES; each is escalated once. Returns how many."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.REPORTS_CRITICAL_COMMUNICATION_MINUTES)
    due = list(
        CriticalFinding.objects.filter(
            communicated_at__isnull=True, escalated_at__isnull=True, flagged_at__lte=cutoff
        )
        .select_related("version", "study__site")
        .order_by("flagged_at")[:500]
    )
    escalated = 0
    for finding in due:
        with transaction.atomic():
            # Locked and re-checked: a second beat, or a communication recorded meanwhile, wins.
            # A communication recorded during this transaction waits for the lock, and then
            # sees (and resolves) the alert raised here.
            locked = (
                CriticalFinding.objects.select_for_update()
                .filter(id=finding.id, communicated_at__isnull=True, escalated_at__isnull=True)
                .first()
            )
            if locked is None:
                continue
            locked.escalated_at = now
            locked.save(update_fields=["escalated_at"])
            minutes = int((now - finding.flagged_at).total_seconds() // 60)
            alert_raise(
                kind=ALERT_KIND,
                study_id=finding.study_id,
                site_id=finding.study.site_id,
                message=(
                    f"{finding.get_category_display().split(':')[0]} critical finding in "
                    f"{finding.study.site.code} {finding.study.accession_number} signed by "
                    f"{finding.version.signer_name} {minutes} minutes ago has no recorded "
                    "communication"
                ),
                data={"finding_id": finding.id, "version": finding.version.number},
                at=now,
            )
            escalated += 1
    if escalated:
        logger.warning("escalated %d uncommunicated critical findings", escalated)
    return escalated
