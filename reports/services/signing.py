"""Issuing and signing a study's report: the preliminary, the final, addenda and corrections.

Each service locks the study row first (the one fixed lock order: study, then report rows),
calls the lifecycle service for the transition in the same transaction, and writes the outbox
row owed to the site before it commits. Passwords are checked before any transaction: hashing is
deliberately slow, and a wrong one is kept on record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from reports import double_reading_selectors as dr_selectors
from reports.hooks import final_signed_after_commit
from reports.models import (
    CommunicationMethod,
    CriticalCategory,
    CriticalCommunication,
    CriticalFinding,
    DoubleReadStage,
    ReportDraft,
    ReportVersion,
    SigningFailure,
    VersionKind,
)
from reports.selectors import WRITABLE_STATUSES
from reports.services import arbitration, content
from reports.services.delivery import report_delivery_enqueue
from reports.services.drafts import DraftInput, draft_save_locked, open_for_reading
from reports.services.errors import (
    NotPermitted,
    ReportInvalid,
    ReportStateConflict,
    SigningLocked,
    WrongPassword,
)
from reports.services.holding import lock_study, require_holder
from worklists import live
from worklists.actors import Actor
from worklists.models import Radiologist, Study, StudyStatus
from worklists.services import studies as lifecycle

# Stages in which the holder signs an independent read, not the report.
_INDEPENDENT_STAGES = (dr_selectors.FIRST_READ, DoubleReadStage.SECOND_READ)

# A communication logged a little ahead of the server's clock is skew, not the future.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclasses.dataclass(frozen=True, slots=True)
class CommunicationInput:
    communicated_to: str
    method: str
    communicated_at: dt.datetime
    read_back_confirmed: bool


def _signing_attempt_record(*, user: AbstractBaseUser, study_id: int) -> int:
    """Count the user's recent failures and record this attempt as one more, as one step per
    user: the user row is locked for just the count and the insert, so parallel attempts are
    taken one at a time and no more than REPORTS_SIGN_MAX_FAILURES passwords are ever tried in a
    window. Raises SigningLocked (recording nothing) when that many are already on record."""
    window = dt.timedelta(minutes=settings.REPORTS_SIGN_LOCKOUT_MINUTES)
    with transaction.atomic():
        # FOR NO KEY UPDATE: serialises attempts of one user without blocking the inserts that
        # merely reference the user (a signature in progress in another tab).
        list(
            get_user_model()
            ._default_manager.select_for_update(no_key=True)
            .filter(pk=user.pk)
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        recent = SigningFailure.objects.filter(user_id=user.pk, at__gte=now - window).count()
        if recent >= settings.REPORTS_SIGN_MAX_FAILURES:
            raise SigningLocked(
                _(
                    "%(count)d wrong passwords in %(minutes)d minutes: signing is locked for a "
                    "while; nothing was signed"
                )
                % {"count": recent, "minutes": settings.REPORTS_SIGN_LOCKOUT_MINUTES}
            )
        return SigningFailure.objects.create(user_id=user.pk, study_id=study_id, at=now).pk


def signing_password_check(*, user: AbstractBaseUser, password: str, study_id: int) -> None:
    """The re-entered password, checked before the signing transaction: a wrong one is recorded
    (and stays recorded), and too many in a row lock signing for a while.

    The attempt is recorded as a failure first and withdrawn when the password proves right,
    so attempts in flight count against the limit too; the (deliberately slow) hash is computed
    after that short transaction, holding no lock.
    """
    attempt_id = _signing_attempt_record(user=user, study_id=study_id)
    if not password or not user.check_password(password):
        raise WrongPassword(_("the password is not correct; nothing was signed"))
    SigningFailure.objects.filter(id=attempt_id).delete()


def _next_number(study: Study) -> int:
    latest = ReportVersion.objects.filter(study=study).aggregate(n=Max("number"))["n"]
    return (latest or 0) + 1


def create_version(
    *,
    study: Study,
    radiologist: Radiologist,
    kind: VersionKind,
    sections: list[content.Section],
    reason: str = "",
    critical_category: str = "",
    password_confirmed: bool,
    signed_at: dt.datetime | None = None,
) -> ReportVersion:
    if not content.has_text(sections):
        raise ReportInvalid(_("the report is empty: write it before issuing it"), field="sections")
    number = _next_number(study)
    signed_at = signed_at or timezone.now()
    return ReportVersion.objects.create(
        study=study,
        number=number,
        kind=kind,
        sections=sections,
        reason=reason,
        signed_by=radiologist,
        signer_name=radiologist.display_name,
        signer_hpr=radiologist.hpr_number,
        signed_at=signed_at,
        password_confirmed=password_confirmed,
        critical_category=critical_category,
        content_hash=content.content_hash(
            study_id=study.id,
            accession_number=study.accession_number,
            site_code=study.site.code,
            number=number,
            kind=kind,
            sections=sections,
            reason=reason,
            signer_hpr=radiologist.hpr_number,
            signed_at=signed_at,
            critical_category=critical_category,
        ),
    )


def _clean_critical(
    critical_category: str, communication: CommunicationInput | None
) -> tuple[str, CommunicationInput | None]:
    if critical_category and critical_category not in CriticalCategory.values:
        raise ReportInvalid(
            f"unknown critical finding category {critical_category!r}; one of "
            f"{', '.join(CriticalCategory.values)}",
            field="critical_category",
        )
    if communication is not None and not critical_category:
        raise ReportInvalid(
            _("a communication is recorded for a critical finding: give its category"),
            field="critical_category",
        )
    return critical_category, communication


def _flag_critical(
    *,
    version: ReportVersion,
    user: AbstractBaseUser,
    communication: CommunicationInput | None,
) -> CriticalFinding:
    finding = CriticalFinding.objects.create(
        version=version,
        study_id=version.study_id,
        category=version.critical_category,
        flagged_at=version.signed_at,
    )
    if communication is not None:
        critical_communication_add_locked(finding=finding, user=user, communication=communication)
    return finding


def critical_communication_add_locked(
    *, finding: CriticalFinding, user: AbstractBaseUser, communication: CommunicationInput
) -> CriticalCommunication:
    """Record one communication; a read-back-confirmed one completes the finding. The caller
    owns the transaction and has locked the study row."""
    now = timezone.now()
    if communication.method not in CommunicationMethod.values:
        raise ReportInvalid(
            f"method must be one of {', '.join(CommunicationMethod.values)}", field="method"
        )
    if not communication.communicated_to.strip():
        raise ReportInvalid(_("say whom the finding was communicated to"), field="communicated_to")
    if communication.communicated_at.tzinfo is None:
        raise ReportInvalid("the time must include a UTC offset", field="communicated_at")
    if communication.communicated_at > now + CLOCK_SKEW:
        raise ReportInvalid(_("the communication cannot be in the future"), field="communicated_at")
    record = CriticalCommunication.objects.create(
        finding=finding,
        communicated_to=communication.communicated_to.strip()[:200],
        method=communication.method,
        communicated_at=communication.communicated_at,
        read_back_confirmed=communication.read_back_confirmed,
        recorded_by_id=user.pk,
        recorded_at=now,
    )
    if communication.read_back_confirmed and finding.communicated_at is None:
        finding.communicated_at = communication.communicated_at
        finding.save(update_fields=["communicated_at"])
    return record


def draft_to_issue(
    study: Study,
    radiologist: Radiologist,
    actor: Actor,
    *,
    user: AbstractBaseUser,
    draft: DraftInput | None,
    verb: str,
) -> ReportDraft:
    """The draft a preliminary or final is made from: what is on the reader's screen is saved
    first; an empty report is refused."""
    open_for_reading(study, radiologist, actor)
    if draft is not None:
        draft_save_locked(
            study=study, user=user, sections=draft.sections, base_revision=draft.base_revision
        )
    current = ReportDraft.objects.filter(study=study).first()
    if current is None:
        message = (
            _("the report is empty: write it before issuing it")
            if verb == "issuing"
            else _("the report is empty: write it before signing it")
        )
        raise ReportInvalid(message, field="sections")
    return current


@transaction.atomic
def report_issue_preliminary(
    *, study_id: int, user: AbstractBaseUser, draft: DraftInput | None = None
) -> ReportVersion:
    """Issue the draft as a preliminary report (wet read), delivered with status P.

    The draft stays: the reader goes on to write the final report from it.
    """
    study = lock_study(study_id)
    radiologist = require_holder(study, user)
    actor = Actor.for_user(user)
    if study.status not in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS):
        raise ReportStateConflict(
            _("a preliminary report is issued while reading, not when the study is %(status)s")
            % {"status": study.get_status_display().lower()}
        )
    stage = dr_selectors.pending_stage(study=study)
    if stage in _INDEPENDENT_STAGES:
        # An independent read is blind and never goes to the RIS: no wet read of it either.
        raise ReportStateConflict(
            _("this study is read twice independently: sign your read with its result")
        )
    if stage is not None:
        raise ReportStateConflict(
            _("only the final report of a double-read study goes to the site: sign it")
        )
    current = draft_to_issue(study, radiologist, actor, user=user, draft=draft, verb="issuing")
    version = create_version(
        study=study,
        radiologist=radiologist,
        kind=VersionKind.PRELIMINARY,
        sections=current.sections,
        password_confirmed=False,
    )
    lifecycle.study_issue_preliminary(study_id=study.id, radiologist_id=radiologist.id, actor=actor)
    report_delivery_enqueue(version=version, result_status="P")
    return version


def report_sign(
    *,
    study_id: int,
    user: AbstractBaseUser,
    password: str,
    draft: DraftInput | None = None,
    critical_category: str = "",
    communication: CommunicationInput | None = None,
) -> ReportVersion:
    """Sign the draft as the final report (status F) with the password re-entered.

    Stores signer, time, HPR number and the content hash; the study becomes FINAL and the draft
    is consumed. A critical finding may be marked, with its communication if already made.
    """
    signing_password_check(user=user, password=password, study_id=study_id)
    return _sign(
        study_id=study_id,
        user=user,
        draft=draft,
        critical_category=critical_category,
        communication=communication,
    )


@transaction.atomic
def _sign(
    *,
    study_id: int,
    user: AbstractBaseUser,
    draft: DraftInput | None,
    critical_category: str,
    communication: CommunicationInput | None,
) -> ReportVersion:
    critical_category, communication = _clean_critical(critical_category, communication)
    study = lock_study(study_id)
    radiologist = require_holder(study, user)
    actor = Actor.for_user(user)
    if study.status not in WRITABLE_STATUSES:
        raise ReportStateConflict(
            _("a study that is %(status)s cannot be signed")
            % {"status": study.get_status_display().lower()}
        )
    stage = dr_selectors.pending_stage(study=study)
    if stage in _INDEPENDENT_STAGES:
        raise ReportStateConflict(
            _("this study is read twice independently: sign your read with its result")
        )
    current = draft_to_issue(study, radiologist, actor, user=user, draft=draft, verb="signing")
    sections = current.sections
    if stage == DoubleReadStage.ARBITRATION:
        case = dr_selectors.double_read_of(study=study)
        assert case is not None
        sections = arbitration.arbitration_sections(
            case=case, sections=sections, arbitrator_name=radiologist.display_name
        )
    version = create_version(
        study=study,
        radiologist=radiologist,
        kind=VersionKind.FINAL,
        sections=sections,
        critical_category=critical_category,
        password_confirmed=True,
    )
    if critical_category:
        _flag_critical(version=version, user=user, communication=communication)
    lifecycle.study_finalize(study_id=study.id, radiologist_id=radiologist.id, actor=actor)
    if stage == DoubleReadStage.ARBITRATION:
        study.refresh_from_db(fields=["status", "status_changed_at"])  # FINAL now
        arbitration.arbitration_signed_locked(
            study=study, version=version, radiologist=radiologist, actor=actor
        )
    current.delete()
    report_delivery_enqueue(version=version, result_status="F")
    # Only the first final comes here (one final per study: a database rule); what listens
    # (peer review's sampling) runs after the signature has committed.
    final_signed_after_commit(study_id=study.id, version_id=version.id)
    return version


def report_amend(
    *,
    study_id: int,
    user: AbstractBaseUser,
    password: str,
    kind: str,
    reason: str,
    addendum_text: str = "",
    sections: list[Any] | None = None,
    critical_category: str = "",
    communication: CommunicationInput | None = None,
) -> ReportVersion:
    """Add an addendum to, or correct, a final report: a new signed version, delivered as C.

    An addendum appends its text to the report as it stands; a correction replaces the
    sections. Only the radiologist who signed the final report amends it.
    """
    if kind not in (VersionKind.ADDENDUM, VersionKind.CORRECTION):
        raise ReportInvalid("kind must be ADDENDUM or CORRECTION", field="kind")
    if not reason.strip():
        raise ReportInvalid(_("an addendum or correction needs a reason"), field="reason")
    signing_password_check(user=user, password=password, study_id=study_id)
    return _amend(
        study_id=study_id,
        user=user,
        kind=kind,
        reason=reason,
        addendum_text=addendum_text,
        sections=sections,
        critical_category=critical_category,
        communication=communication,
    )


@transaction.atomic
def _amend(
    *,
    study_id: int,
    user: AbstractBaseUser,
    kind: str,
    reason: str,
    addendum_text: str,
    sections: list[Any] | None,
    critical_category: str,
    communication: CommunicationInput | None,
) -> ReportVersion:
    critical_category, communication = _clean_critical(critical_category, communication)
    study = lock_study(study_id)
    if study.status != StudyStatus.FINAL:
        raise ReportStateConflict(_("only a final report can have an addendum or a correction"))
    final = (
        ReportVersion.objects.filter(study=study, kind=VersionKind.FINAL)
        .select_related("signed_by__user")
        .get()
    )
    if final.signed_by.user_id != user.pk:
        raise NotPermitted(_("only the radiologist who signed the final report may amend it"))
    latest = ReportVersion.objects.filter(study=study).order_by("-number").first()
    assert latest is not None  # the final is there
    signed_at = timezone.now()
    if kind == VersionKind.ADDENDUM:
        if not addendum_text.strip():
            raise ReportInvalid(_("write the addendum"), field="text")
        number = _next_number(study)
        # The date as the site reads it (its own zone), of the moment the addendum is signed:
        # the title is part of the signed, hashed content.
        site_date = signed_at.astimezone(study.site.zone).date()
        new_sections = [
            *latest.sections,
            {
                "key": f"addendum-{number}",
                "title": f"Addendum ({site_date:%d.%m.%Y})",
                "text": addendum_text.replace("\r\n", "\n"),
            },
        ]
    else:
        new_sections = content.clean_sections(sections if sections is not None else [])
        if new_sections == latest.sections:
            raise ReportInvalid(_("the correction changes nothing"), field="sections")
    version = create_version(
        study=study,
        radiologist=final.signed_by,
        kind=VersionKind(kind),
        sections=content.clean_sections(new_sections),
        reason=reason.strip(),
        critical_category=critical_category,
        password_confirmed=True,
        signed_at=signed_at,
    )
    if critical_category:
        _flag_critical(version=version, user=user, communication=communication)
    report_delivery_enqueue(version=version, result_status="C")
    live.broadcast_after_commit(
        study_id=study.id, site_id=study.site_id, event="report.amended", status=study.status
    )
    return version
