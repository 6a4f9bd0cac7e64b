"""Reads of reports. Studies are found through access.studies_visible_to, nowhere else."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

from django.db.models import Count, Prefetch, Q

from hl7_interface.models import OutboundKind, OutboundMessage
from reports.models import (
    STANDARD_SECTIONS,
    CriticalCommunication,
    CriticalFinding,
    ReferralRejection,
    RejectionReason,
    ReportDraft,
    ReportTemplate,
    ReportVersion,
)
from reports.services.audit import audit_report_reads
from worklists.access import AnyUser, is_coordinator, radiologist_of, studies_visible_to
from worklists.models import Assignment, Study, StudyStatus
from worklists.services.audit import AccessContext

# Statuses in which the holder writes the report (a preliminary does not end the writing).
WRITABLE_STATUSES = (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS, StudyStatus.PRELIMINARY)


@dataclasses.dataclass(frozen=True, slots=True)
class VersionView:
    version: ReportVersion
    deliveries: list[OutboundMessage]
    finding: CriticalFinding | None


@dataclasses.dataclass(frozen=True, slots=True)
class ReportState:
    """Everything about one study's report: the draft, every version with its deliveries and
    critical finding, and the rejection if the referral was returned."""

    study: Study
    draft: ReportDraft | None
    versions: list[VersionView]
    rejection: ReferralRejection | None
    rejection_deliveries: list[OutboundMessage]

    @property
    def has_content(self) -> bool:
        return self.draft is not None or bool(self.versions) or self.rejection is not None

    @property
    def latest(self) -> VersionView | None:
        return self.versions[-1] if self.versions else None

    @property
    def open_findings(self) -> list[CriticalFinding]:
        return [v.finding for v in self.versions if v.finding and not v.finding.is_communicated]

    @property
    def is_complete(self) -> bool:
        """Final, and every critical finding communicated."""
        return any(v.version.kind == "FINAL" for v in self.versions) and not self.open_findings


def report_state(*, study: Study) -> ReportState:
    """The report of a study the caller has already been allowed to see."""
    versions = list(
        ReportVersion.objects.filter(study=study)
        .select_related("critical_finding", "signed_by")
        .prefetch_related(
            Prefetch(
                "critical_finding__communications",
                queryset=CriticalCommunication.objects.select_related("recorded_by"),
            )
        )
        .order_by("number")
    )
    by_version: dict[int, list[OutboundMessage]] = defaultdict(list)
    rejection_deliveries = []
    for message in OutboundMessage.objects.filter(study=study).order_by("id"):
        if message.kind == OutboundKind.ORDER_REJECTION:
            rejection_deliveries.append(message)
        elif isinstance(message.content, dict):
            by_version[int(message.content.get("report_version_id", 0))].append(message)
    views = []
    for version in versions:
        try:
            finding: CriticalFinding | None = version.critical_finding
        except CriticalFinding.DoesNotExist:
            finding = None
        views.append(
            VersionView(version=version, deliveries=by_version[version.id], finding=finding)
        )
    return ReportState(
        study=study,
        draft=ReportDraft.objects.filter(study=study).select_related("author").first(),
        versions=views,
        rejection=ReferralRejection.objects.filter(study=study)
        .select_related("rejected_by__user")
        .first(),
        rejection_deliveries=rejection_deliveries,
    )


def report_state_read(*, study: Study, context: AccessContext) -> ReportState:
    """``report_state`` for showing to the reader ``context`` names, audited as a read: one
    ``report.view`` row when there is a report to show (nothing shown, nothing read). The study
    must be one the reader may see (found through the scoping function)."""
    state = report_state(study=study)
    if state.has_content:
        audit_report_reads(context=context, studies=[study])
    return state


def template_for_study(*, study: Study) -> ReportTemplate | None:
    """The most specific active template: this procedure code (and modality, if it names one),
    else this worklist's."""
    templates = ReportTemplate.objects.filter(is_active=True)
    if study.procedure_code:
        for template in templates.filter(procedure_code=study.procedure_code).order_by(
            "-modality", "id"
        ):
            if template.modality in ("", study.modality):
                return template
    if study.worklist_id is not None:
        for template in templates.filter(worklist_id=study.worklist_id, procedure_code="").order_by(
            "-modality", "id"
        ):
            if template.modality in ("", study.modality):
                return template
    return None


def starting_sections(*, study: Study) -> list[dict[str, str]]:
    """What the editor opens with when there is no draft: the template's sections or the
    standard four, the clinical question filled in."""
    return sections_from_template(template_sections(template_for_study(study=study)), study=study)


def template_sections(template: ReportTemplate | None) -> list[dict[str, str]]:
    """A template's sections (the standard four without one), as the editor starts them."""
    if template is not None:
        return [
            {"key": s.key, "title": s.title, "text": s.default_text}
            for s in template.sections.all()
        ]
    return [{"key": key, "title": title, "text": ""} for key, title in STANDARD_SECTIONS]


def sections_from_template(sections: list[dict[str, str]], *, study: Study) -> list[dict[str, str]]:
    """A fresh copy of ``sections`` with the study's clinical question filled in."""
    filled = [dict(section) for section in sections]
    for section in filled:
        if section["key"] == "clinical_information" and not section["text"]:
            section["text"] = study.clinical_question
    return filled


def may_read_drafts(*, user: AnyUser) -> bool:
    """Radiologists and coordinators read unsigned drafts; a site's own staff see issued
    versions only (a draft is not a report, and nobody should act on it)."""
    return is_coordinator(user) or radiologist_of(user) is not None


def may_write(*, study: Study, user: AnyUser) -> bool:
    """Whether ``user`` holds the study (the only one who may write its report)."""
    if not user.is_authenticated:
        return False
    return Assignment.objects.filter(
        study=study, ended_at__isnull=True, radiologist__user_id=user.pk
    ).exists()


@dataclasses.dataclass(frozen=True, slots=True)
class Rights:
    """What the page offers ``user`` for this report; the services decide again on each write."""

    draft: bool
    reject: bool
    amend: bool
    communicate: bool


def report_rights(*, state: ReportState, user: AnyUser) -> Rights:
    holder = may_write(study=state.study, user=user)
    status = state.study.status
    signer_of_final = any(
        v.version.kind == "FINAL" and v.version.signed_by.user_id == user.pk for v in state.versions
    )
    communicate = bool(state.open_findings) and (
        is_coordinator(user)
        or any(f.version.signed_by.user_id == user.pk for f in state.open_findings)
    )
    return Rights(
        draft=holder and status in WRITABLE_STATUSES,
        reject=holder and status in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS),
        amend=status == StudyStatus.FINAL and signer_of_final,
        communicate=communicate,
    )


def latest_versions(*, studies: list[Study]) -> dict[int, ReportVersion]:
    """The newest report version of each of ``studies`` (already scoped), in one query."""
    latest: dict[int, ReportVersion] = {}
    for version in ReportVersion.objects.filter(study__in=studies).order_by("study_id", "number"):
        latest[version.study_id] = version
    return latest


@dataclasses.dataclass(frozen=True, slots=True)
class RejectionCount:
    site_code: str
    site_name: str
    reason: str
    reason_label: str
    count: int


def rejection_counts(
    *, user: AnyUser, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[RejectionCount]:
    """Returned referrals per site and reason over a period, of the sites ``user`` may see."""
    period = Q()
    if since is not None:
        period &= Q(rejected_at__gte=since)
    if until is not None:
        period &= Q(rejected_at__lt=until)
    rows = (
        ReferralRejection.objects.filter(period, study__in=studies_visible_to(user))
        .values("site__code", "site__name", "reason")
        .annotate(count=Count("id"))
        .order_by("site__code", "reason")
    )
    return [
        RejectionCount(
            site_code=row["site__code"],
            site_name=row["site__name"],
            reason=row["reason"],
            reason_label=str(RejectionReason(row["reason"]).label),
            count=row["count"],
        )
        for row in rows
    ]
