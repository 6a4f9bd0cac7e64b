"""Returning a referral that should not have been made, with a coded reason."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from hl7_interface.outbox import RejectionDelivery, outbox_enqueue_rejection
from reports.models import ReferralRejection, RejectionReason
from reports.services.errors import ReportInvalid, ReportStateConflict
from reports.services.holding import lock_study, require_holder
from worklists.actors import Actor
from worklists.models import StudyStatus
from worklists.services import studies as lifecycle


@transaction.atomic
def referral_reject(
    *, study_id: int, user: AbstractBaseUser, reason: str, comment: str = ""
) -> ReferralRejection:
    """The holder returns the referral: the study becomes REJECTED and the site is told (an
    order cancellation by the filler, ORC-1 OC, reason in ORC-16, comment in NTE)."""
    if reason not in RejectionReason.values:
        raise ReportInvalid(
            f"reason must be one of {', '.join(RejectionReason.values)}", field="reason"
        )
    comment = comment.strip()
    if reason == RejectionReason.OTHER and not comment:
        raise ReportInvalid(_("say why the referral is returned"), field="comment")
    study = lock_study(study_id)
    radiologist = require_holder(study, user)
    if study.status not in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS):
        raise ReportStateConflict(
            _("a referral is returned before a report is issued, not when the study is %(status)s")
            % {"status": study.get_status_display().lower()}
        )
    now = timezone.now()
    # The stored event and the HL7 message to the RIS stay in English, whatever the page speaks.
    with translation.override("en"):
        label = str(RejectionReason(reason).label)
    rejection = ReferralRejection.objects.create(
        study=study,
        site_id=study.site_id,
        reason=reason,
        comment=comment,
        rejected_by=radiologist,
        rejected_at=now,
    )
    lifecycle.study_reject(
        study_id=study.id,
        actor=Actor.for_user(user),
        reason=f"{label}: {comment}" if comment else label,
    )
    outbox_enqueue_rejection(
        study_id=study.id,
        rejection=RejectionDelivery(
            reason_code=reason,
            reason_text=label,
            comment=comment,
            rejected_by_name=radiologist.display_name,
            rejected_by_hpr=radiologist.hpr_number,
            rejected_at=now,
        ),
    )
    return rejection
