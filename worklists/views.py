"""Server-rendered pages: parse the request, call selectors, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from worklists import selectors
from worklists.access import is_coordinator, sites_visible_to
from worklists.models import UNREAD_STATUSES, AuditEvent, Modality, Study
from worklists.services.audit import AccessContext, audit_study_reads


@login_required
def worklist_page(request: HttpRequest) -> HttpResponse:
    summaries = selectors.worklist_summaries(
        user=request.user, site_code=request.GET.get("site", "")
    )
    tab = (
        request.GET.get("tab")
        or next((s.worklist.code for s in summaries if s.unread_count), summaries[0].worklist.code)
        if summaries
        else ""
    )
    filters = {
        "worklist": tab,
        "status": ",".join(UNREAD_STATUSES),
        "site": request.GET.get("site", ""),
        "modality": modality
        if (modality := request.GET.get("modality", "")) in Modality.values
        else "",
        "unclassified": request.GET.get("unclassified", ""),
    }
    cursor = None
    if token := request.GET.get("cursor"):
        try:
            cursor = selectors.Cursor.decode(token)
        except selectors.InvalidCursor:
            cursor = None
    rows, next_cursor = selectors.study_list(
        user=request.user, filters=filters, cursor=cursor, page_size=settings.STUDIES_PAGE_SIZE
    )
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=rows,
        action=AuditEvent.Action.STUDY_LIST,
    )
    now = timezone.now()
    next_query = ""
    if next_cursor is not None:
        query = request.GET.copy()
        query["cursor"] = next_cursor.encode()
        query["tab"] = tab
        next_query = query.urlencode()
    return render(
        request,
        "worklists/worklist.html",
        {
            "summaries": summaries,
            "tab": tab,
            "rows": [(study, study.deadline_risk(now)) for study in rows],
            "sites": sites_visible_to(request.user),
            "modalities": Modality.choices,
            "filters": filters,
            "next_query": next_query,
            "is_coordinator": is_coordinator(request.user),
            "now": now,
        },
    )


@login_required
def study_page(request: HttpRequest, study_id: int) -> HttpResponse:
    try:
        study = selectors.study_get(user=request.user, study_id=study_id)
    except Study.DoesNotExist as exc:
        raise Http404("No such study") from exc
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=[study],
        action=AuditEvent.Action.STUDY_VIEW,
    )
    priors = selectors.patient_prior_studies(user=request.user, study=study)
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=priors,
        action=AuditEvent.Action.STUDY_LIST,
    )
    now = timezone.now()
    return render(
        request,
        "worklists/study.html",
        {
            "study": study,
            "risk": study.deadline_risk(now),
            "assignment": selectors.study_active_assignment(study=study),
            "events": selectors.study_events(study=study),
            "priors": priors,
            "identifiers": study.patient.identifiers.order_by("kind"),
            "age": study.patient.age_on(now.astimezone(study.site.zone).date()),
            "viewer_url": study.site.viewer_url(
                study_instance_uid=study.study_instance_uid,
                accession_number=study.accession_number,
            ),
            "is_coordinator": is_coordinator(request.user),
        },
    )
