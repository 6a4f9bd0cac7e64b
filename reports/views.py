"""The reading page and its forms: parse the request, call one service, render or redirect.

Every form posts to its own URL and redirects back on success, or, when the reader chose
"... and next" (``then=next``), on to the next study by the read-next rule. On a refusal the
page is rendered again with what the reader typed, so that a wrong password loses no text.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from reports import double_reading_selectors as dr_selectors
from reports import selectors
from reports.forms import (
    SCORE_CHOICES,
    AddendumForm,
    CommunicationForm,
    CorrectionForm,
    IndependentReadForm,
    RejectForm,
    SignForm,
    posted_draft,
)
from reports.hooks import ReadingTaskView, reading_task_opener
from reports.models import CommunicationMethod, CriticalCategory, RejectionReason
from reports.services.arbitration import ScreeningResult
from reports.services.audit import audit_report_reads
from reports.services.critical import critical_communication_record
from reports.services.double_reading import independent_read_sign
from reports.services.errors import NotPermitted, ReportError, ReportInvalid, WrongPassword
from reports.services.reading import study_read_next
from reports.services.rejections import referral_reject
from reports.services.signing import (
    report_amend,
    report_issue_preliminary,
    report_sign,
)
from worklists import selectors as study_selectors
from worklists.access import radiologist_of
from worklists.actors import Actor
from worklists.hooks import studies_withheld
from worklists.lifecycle import IllegalTransition
from worklists.models import UNREAD_STATUSES, AuditEvent, Study, StudyStatus
from worklists.services.audit import AccessContext, audit_refused_read, audit_study_reads
from worklists.services.claims import study_open


def _study(request: HttpRequest, study_id: int, *, withheld_ok: bool = False) -> Study:
    try:
        return study_selectors.study_get(
            user=request.user, study_id=study_id, withheld_ok=withheld_ok
        )
    except Study.DoesNotExist as exc:
        audit_refused_read(
            context=AccessContext.from_request(request, channel="web"), study_id=study_id
        )
        raise Http404("No such study") from exc


def _render_reading(
    request: HttpRequest,
    study: Study,
    *,
    sections: list[dict[str, Any]] | None = None,
    error: str = "",
    status: int = 200,
    task: ReadingTaskView | None = None,
) -> HttpResponse:
    """The reading page of ``study``; with ``task`` (a peer review), the task's panel in place
    of the editor and the issued versions, the header's deadline the task's, and, when the task
    is blind, nothing that names who read and signed it."""
    context = AccessContext.from_request(request, channel="web")
    audit_study_reads(context=context, studies=[study], action=AuditEvent.Action.STUDY_VIEW)
    priors = study_selectors.patient_prior_studies(user=request.user, study=study)
    audit_study_reads(context=context, studies=priors, action=AuditEvent.Action.STUDY_LIST)
    # Priors withheld from this user (a blind review of theirs is open): listed, but neither
    # their report nor its signer is shown (asked once for them all).
    withheld = studies_withheld(request.user, priors)
    prior_reports = {
        study_id: version
        for study_id, version in selectors.latest_versions(studies=priors).items()
        if study_id not in withheld
    }
    state = selectors.report_state(study=study)
    double_reading = dr_selectors.reads_for_viewer(study=study, user=request.user)
    shown = [p for p in priors if p.id in prior_reports]
    if state.has_content or double_reading.reads:
        shown.append(study)
    audit_report_reads(context=context, studies=shown)

    now = timezone.now()
    rights = selectors.report_rights(state=state, user=request.user)
    if sections is None:
        sections = state.draft.sections if state.draft else selectors.starting_sections(study=study)
    return render(
        request,
        "reports/reading.html",
        {
            "study": study,
            "now": now,
            "risk": study.deadline_risk(now),
            # The deadline matters until the final report is signed.
            "counting_down": study.status in (*UNREAD_STATUSES, StudyStatus.PRELIMINARY),
            "age": study.shown_patient.age_on(now.astimezone(study.site.zone).date()),
            "viewer_url": study.site.viewer_url(
                study_instance_uid=study.study_instance_uid,
                accession_number=study.accession_number,
            ),
            "assignment": study_selectors.study_active_assignment(study=study),
            "priors": [
                (prior, prior_reports.get(prior.id), withheld.get(prior.id)) for prior in priors
            ],
            "task": task,
            "first_reported_prior_id": next((p.id for p in priors if p.id in prior_reports), None),
            "is_reader": radiologist_of(request.user) is not None,
            "ai_findings": study.ai_findings.order_by("-is_critical", "-confidence", "id"),
            "state": state,
            "rights": rights,
            "sections": sections,
            "revision": state.draft.revision if state.draft else 0,
            "error": error,
            "double_reading": double_reading,
            "stage_label": dr_selectors.STAGE_LABELS.get(double_reading.stage or "", ""),
            # the holder signs an independent read with its result, not the report
            "independent_read": double_reading.stage in dr_selectors.INDEPENDENT_STAGES,
            "score_choices": SCORE_CHOICES,
            "critical_categories": CriticalCategory.choices,
            "communication_methods": CommunicationMethod.choices,
            "rejection_reasons": RejectionReason.choices,
            "autosave_delay_ms": settings.REPORTS_AUTOSAVE_DELAY_MS,
            # A communication's time is typed on the site's clock.
            "site_now": now.astimezone(study.site.zone).strftime("%Y-%m-%dT%H:%M"),
        },
        status=status,
    )


# Marked for the catalog here, translated where it is shown.
NOTHING_LEFT = gettext_noop(
    "Nothing left for you to read now: no unread study in your worklists, sites and shift."
)


def _then(request: HttpRequest, study: Study, done: str, *, stay: bool = False) -> HttpResponse:
    """After an action succeeded: back to the study, or (``then=next`` posted) on to the next
    study by the read-next rule, or to the worklist when nothing is left."""
    label = f"{study.procedure_text} ({study.site.code} {study.accession_number})"
    if stay or request.POST.get("then") != "next":
        messages.success(request, done)
        return redirect("reading", study_id=study.id)
    messages.success(request, f"{label}: {done}")
    following = study_read_next(user=request.user, after_study_id=study.id)  # type: ignore[arg-type]
    if following is None:
        messages.info(request, _(NOTHING_LEFT))
        return redirect("worklist")
    return redirect(following.url)


@login_required
@require_POST
def reading_next(request: HttpRequest) -> HttpResponse:
    """Read next from the reading page: the next study by the read-next rule."""
    try:
        current = int(request.POST.get("after", ""))
    except ValueError:
        current = None
    following = study_read_next(user=request.user, after_study_id=current)  # type: ignore[arg-type]
    if following is None:
        messages.info(request, _(NOTHING_LEFT))
        return redirect("worklist")
    return redirect(following.url)


def reading_task_response(
    request: HttpRequest,
    *,
    study_id: int,
    kind: str,
    task_id: int,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The reading page of a reader's task (reports.hooks: a peer review), or 404 when the
    task is not theirs to see. Its app's form posts to its own view, which answers a refusal
    with this page again (``error``, ``status``)."""
    opener = reading_task_opener(kind)
    if opener is None:
        raise Http404("No such task")
    # The task shows only what it may (a blind review hides its author): the study is not
    # withheld from its own task.
    study = _study(request, study_id, withheld_ok=True)
    task = opener(request=request, study=study, task_id=task_id, error=error)
    if task is None:
        audit_refused_read(
            context=AccessContext.from_request(request, channel="web"), study_id=study_id
        )
        raise Http404("No such task")
    return _render_reading(request, study, task=task, status=status)


@login_required
def reading_task_page(request: HttpRequest, study_id: int, kind: str, task_id: int) -> HttpResponse:
    return reading_task_response(request, study_id=study_id, kind=kind, task_id=task_id)


@login_required
def reading_page(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _study(request, study_id)
    radiologist = radiologist_of(request.user)
    if radiologist is not None and study_open(
        study_id=study.id, radiologist_id=radiologist.id, actor=Actor.for_user(request.user)
    ):
        # The holder opened it: activity, and a queued study is now being read.
        study.refresh_from_db(fields=["status", "status_changed_at"])
    return _render_reading(request, study)


def _refused(
    request: HttpRequest, study: Study, exc: ReportError | IllegalTransition, sections: Any = None
) -> HttpResponse:
    if isinstance(exc, NotPermitted | WrongPassword):
        status = 403
    elif isinstance(exc, ReportInvalid):
        status = 400
    else:
        status = 409
    return _render_reading(request, study, sections=sections, error=str(exc), status=status)


@login_required
@require_POST
def reading_preliminary(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _study(request, study_id)
    draft = posted_draft(request.POST)
    try:
        report_issue_preliminary(study_id=study.id, user=request.user, draft=draft)  # type: ignore[arg-type]
    except (ReportError, IllegalTransition) as exc:
        return _refused(request, study, exc, draft.sections if draft else None)
    return _then(request, study, _("Preliminary report issued and marked for delivery (P)."))


@login_required
@require_POST
def reading_sign(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _study(request, study_id)
    draft = posted_draft(request.POST)
    form = SignForm(request.POST)
    if not form.is_valid():
        return _render_reading(request, study, error=_("Check the signing form."), status=400)
    try:
        version = report_sign(
            study_id=study.id,
            user=request.user,  # type: ignore[arg-type]
            password=form.cleaned_data["password"],
            draft=draft,
            critical_category=form.cleaned_data["critical_category"],
        )
    except (ReportError, IllegalTransition) as exc:
        return _refused(request, study, exc, draft.sections if draft else None)
    done = _("Report signed and marked for delivery (F).")
    if version.critical_category and request.POST.get("then") == "next":
        # The finding must reach the referrer before the reader moves on: stay for that.
        response = _then(request, study, done, stay=True)
        messages.warning(
            request, _("Critical finding flagged: record its communication here before you go on.")
        )
        return response
    return _then(request, study, done)


@login_required
@require_POST
def reading_sign_read(request: HttpRequest, study_id: int) -> HttpResponse:
    """Sign the holder's independent read of a double-read study with its result."""
    study = _study(request, study_id)
    draft = posted_draft(request.POST)
    form = IndependentReadForm(request.POST)
    if not form.is_valid():
        return _render_reading(
            request,
            study,
            sections=draft.sections if draft else None,
            error=_("Give both scores and the recall decision."),
            status=400,
        )
    try:
        read = independent_read_sign(
            study_id=study.id,
            user=request.user,  # type: ignore[arg-type]
            password=form.cleaned_data["password"],
            result=ScreeningResult(
                score_right=form.cleaned_data["score_right"],
                score_left=form.cleaned_data["score_left"],
                recall=form.cleaned_data["recall"],
            ),
            draft=draft,
        )
    except (ReportError, IllegalTransition) as exc:
        return _refused(request, study, exc, draft.sections if draft else None)
    done = _(
        "Independent read %(number)s signed. It is not sent to the site: only the final report is."
    ) % {"number": read.number}
    return _then(request, study, done)


@login_required
@require_POST
def reading_addendum(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _study(request, study_id)
    form = AddendumForm(request.POST)
    if not form.is_valid():
        return _render_reading(
            request, study, error=_("Give the addendum, its reason and your password."), status=400
        )
    try:
        report_amend(
            study_id=study.id,
            user=request.user,  # type: ignore[arg-type]
            password=form.cleaned_data["password"],
            kind="ADDENDUM",
            reason=form.cleaned_data["reason"],
            addendum_text=form.cleaned_data["text"],
            critical_category=form.cleaned_data["critical_category"],
        )
    except (ReportError, IllegalTransition) as exc:
        return _refused(request, study, exc)
    messages.success(request, _("Addendum signed and marked for delivery (C)."))
    return redirect("reading", study_id=study.id)


@login_required
@require_POST
def reading_correction(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _study(request, study_id)
    form = CorrectionForm(request.POST)
    corrected = posted_draft(request.POST)
    if not form.is_valid() or corrected is None:
        return _render_reading(
            request,
            study,
            error=_("Give the corrected report, its reason and your password."),
            status=400,
        )
    try:
        report_amend(
            study_id=study.id,
            user=request.user,  # type: ignore[arg-type]
            password=form.cleaned_data["password"],
            kind="CORRECTION",
            reason=form.cleaned_data["reason"],
            sections=corrected.sections,
        )
    except (ReportError, IllegalTransition) as exc:
        return _refused(request, study, exc)
    messages.success(request, _("Correction signed and marked for delivery (C)."))
    return redirect("reading", study_id=study.id)


@login_required
@require_POST
def reading_communication(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _study(request, study_id)
    form = CommunicationForm(request.POST, zone=study.site.zone)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        return _render_reading(request, study, error=errors, status=400)
    try:
        record = critical_communication_record(
            study_id=study.id,
            user=request.user,  # type: ignore[arg-type]
            communication=form.to_input(),
        )
    except ReportError as exc:
        return _refused(request, study, exc)
    if record.read_back_confirmed:
        messages.success(request, _("Communication recorded; the report is complete."))
    else:
        messages.warning(
            request, _("Communication recorded without read-back: the finding is still open.")
        )
    return redirect("reading", study_id=study.id)


@login_required
@require_POST
def reading_reject(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _study(request, study_id)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return _render_reading(request, study, error=_("Choose a reason."), status=400)
    try:
        referral_reject(
            study_id=study.id,
            user=request.user,  # type: ignore[arg-type]
            reason=form.cleaned_data["reason"],
            comment=form.cleaned_data["comment"],
        )
    except (ReportError, IllegalTransition) as exc:
        return _refused(request, study, exc)
    return _then(request, study, _("Referral returned to the site."))
