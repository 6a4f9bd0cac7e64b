"""Server-rendered pages: parse the request, call selectors, render."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from worklists import routing, selectors
from worklists.access import (
    identifiers_visible,
    is_coordinator,
    radiologist_of,
    sites_visible_to,
    studies_of_sites,
    visible_site_ids,
)
from worklists.actors import Actor
from worklists.console import selectors as console_selectors
from worklists.console.candidates import study_candidates
from worklists.console.holding import with_holding
from worklists.console.surges import surges_of_worklist, surges_running
from worklists.errors import DomainError, NotFound, NotPermitted
from worklists.hooks import ReadingOrderTask, reading_order_tasks, worklist_panels
from worklists.models import UNREAD_STATUSES, AuditEvent, Modality, Study
from worklists.services.audit import AccessContext, audit_refused_read, audit_study_reads
from worklists.services.claims import (
    reading_order_next,
    study_coordinator_assign,
    study_release,
)


def _landing_tab(summaries: list[selectors.WorklistSummary], on_shift: dict[int, int]) -> str:
    """The tab a user lands on: a reader, a worklist their shift covers now (one they read as
    primary with unread studies first); anyone else, the first worklist with unread studies."""
    if not summaries:
        return ""
    mine = [s for s in summaries if s.worklist.id in on_shift]
    if mine:
        return min(mine, key=lambda s: (not s.unread_count, on_shift[s.worklist.id])).worklist.code
    return next((s.worklist.code for s in summaries if s.unread_count), summaries[0].worklist.code)


def _list_filters(request: HttpRequest, tab: str) -> dict[str, str]:
    """The shared list's filters from the query string (the page and its live rows)."""
    return {
        "worklist": tab,
        "status": ",".join(UNREAD_STATUSES),
        "site": request.GET.get("site", ""),
        "modality": modality
        if (modality := request.GET.get("modality", "")) in Modality.values
        else "",
        "unclassified": request.GET.get("unclassified", ""),
    }


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One row of the reader's queue: a study they hold, or one of their tasks (``task``, a
    peer review, about ``study``)."""

    study: Study
    risk: str
    task: ReadingOrderTask | None = None


def _task_risk(task: ReadingOrderTask, now: dt.datetime) -> str:
    return "overdue" if task.deadline < now else ""


def _reading_order(
    studies: list[Study], tasks: list[ReadingOrderTask], *, now: dt.datetime
) -> list[QueueEntry]:
    """The reader's studies and tasks as one list in reading order (worklists.routing: a task
    ranks as a routine study with its own deadline; on a tie the study first)."""
    entries = [
        (
            routing.study_position(s.routing_rank, s.deadline, s.id),
            QueueEntry(s, s.deadline_risk(now)),
        )
        for s in studies
    ] + [(task.position, QueueEntry(task.study, _task_risk(task, now), task)) for task in tasks]
    entries.sort(key=lambda pair: pair[0])
    return [entry for _, entry in entries]


@login_required
def worklist_page(request: HttpRequest) -> HttpResponse:
    # The user's scope, resolved once for the whole page.
    site_ids = visible_site_ids(request.user)
    visible = studies_of_sites(site_ids)
    coordinator = is_coordinator(request.user)
    radiologist = radiologist_of(request.user)
    summaries = selectors.worklist_summaries(
        user=request.user, site_code=request.GET.get("site", ""), visible=visible
    )
    on_shift = (
        selectors.reader_shift_worklists(radiologist_id=radiologist.id, now=timezone.now())
        if radiologist is not None
        else {}
    )
    tab = request.GET.get("tab") or _landing_tab(summaries, on_shift)
    filters = _list_filters(request, tab)
    cursor = None
    if token := request.GET.get("cursor"):
        try:
            cursor = selectors.Cursor.decode(token)
        except selectors.InvalidCursor:
            cursor = None
    rows, next_cursor = selectors.study_list(
        user=request.user,
        filters=filters,
        cursor=cursor,
        page_size=settings.STUDIES_PAGE_SIZE,
        visible=visible,
    )
    queue = (
        selectors.reader_queue(visible=visible, radiologist_id=radiologist.id)
        if radiologist is not None
        else []
    )
    # The reader's tasks (peer reviews) take their places in the same reading order.
    tasks = (
        reading_order_tasks(user=request.user, radiologist_id=radiologist.id, site_ids=site_ids)
        if radiologist is not None
        else []
    )
    # Coordinators see how many alerts wait, and handle them on the console (no pile of banners),
    # and who holds each study and whether they opened it.
    open_alert_count = console_selectors.open_alert_count(user=request.user) if coordinator else 0
    now = timezone.now()
    if coordinator:
        with_holding(rows, now=now)
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=[*queue, *(task.study for task in tasks), *rows],
        action=AuditEvent.Action.STUDY_LIST,
    )
    shown = next((s.worklist for s in summaries if s.worklist.code == tab), None)
    # Everyone who sees the worklist sees that a surge widens it (one line, not a banner each).
    surges = surges_of_worklist(surges_running(now=now), shown.id) if shown is not None else []
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
            # What adapters add under the reader's queue (review discrepancies...), rendered once.
            "panels": [
                html
                for panel in worklist_panels()
                if (html := panel.render(request=request, now=now))
            ],
            "summaries": summaries,
            "tab": tab,
            "on_shift": on_shift,
            "rows": [(study, study.deadline_risk(now)) for study in rows],
            "sites": sites_visible_to(request.user),
            "modalities": Modality.choices,
            "filters": filters,
            "next_query": next_query,
            "is_coordinator": coordinator,
            "show_holding": coordinator,
            "radiologist": radiologist,
            "queue": _reading_order(queue, tasks, now=now),
            "open_alert_count": open_alert_count,
            "surges": surges,
            "now": now,
            "now_ms": int(now.timestamp() * 1000),
            "live_query": urlencode(
                {
                    "tab": tab,
                    **{k: filters[k] for k in ("site", "modality", "unclassified") if filters[k]},
                }
            ),
        },
    )


@login_required
def worklist_row(request: HttpRequest, study_id: int) -> HttpResponse:
    """One study's rows for a live worklist page (static/js/live.js asks after a socket event):
    its row in the reader's queue (or their task's about it: a peer review) and in the list as
    filtered by the query string, each left out when the study no longer belongs there, with
    the counts swapped in beside them. Scoped (404 for a study the user may not see) and
    audited like the page's own rows."""
    site_ids = visible_site_ids(request.user)
    visible = studies_of_sites(site_ids)
    try:
        study = selectors.study_get(user=request.user, study_id=study_id, withheld_ok=True)
    except Study.DoesNotExist as exc:
        raise Http404("No such study") from exc
    radiologist = radiologist_of(request.user)
    summaries = selectors.worklist_summaries(
        user=request.user, site_code=request.GET.get("site", ""), visible=visible
    )
    tab = request.GET.get("tab", "")
    filters = _list_filters(request, tab)
    list_study = (
        selectors.study_list_filtered(visible, filters=filters)
        .select_related("site", "worklist", "patient")
        .filter(id=study.id)
        .first()
    )
    queue_study, queue_count, queue_task = None, 0, None
    if radiologist is not None:
        queue_study = selectors.reader_queue_study(
            visible=visible, radiologist_id=radiologist.id, study_id=study.id
        )
        tasks = reading_order_tasks(
            user=request.user, radiologist_id=radiologist.id, site_ids=site_ids
        )
        queue_count = selectors.reader_queue_count(
            visible=visible, radiologist_id=radiologist.id
        ) + len(tasks)
        if queue_study is None:
            # A study under the reader's review (signed, never in their queue as a study)
            # keeps its row as their task, or loses it once scored or withdrawn.
            queue_task = next((t for t in tasks if t.study.id == study.id), None)
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=[study],
        action=AuditEvent.Action.STUDY_LIST,
    )
    now = timezone.now()
    coordinator = is_coordinator(request.user)
    if coordinator and list_study is not None:
        with_holding([list_study], now=now)
    return render(
        request,
        "worklists/_row_update.html",
        {
            "study": study,
            "list_study": list_study,
            "list_risk": list_study.deadline_risk(now) if list_study else "",
            "show_holding": coordinator,
            "queue_study": queue_study,
            "queue_risk": queue_study.deadline_risk(now) if queue_study else "",
            "queue_task": queue_task,
            "queue_task_risk": _task_risk(queue_task, now) if queue_task else "",
            "queue_count": queue_count,
            "radiologist": radiologist,
            "on_shift": (
                selectors.reader_shift_worklists(radiologist_id=radiologist.id, now=now)
                if radiologist is not None
                else {}
            ),
            "summaries": summaries,
            "tab": tab,
            "filters": filters,
            "now": now,
        },
    )


@login_required
def study_page(request: HttpRequest, study_id: int) -> HttpResponse:
    site_ids = visible_site_ids(request.user)
    try:
        study = selectors.study_get(
            user=request.user, study_id=study_id, visible=studies_of_sites(site_ids)
        )
    except Study.DoesNotExist as exc:
        audit_refused_read(
            context=AccessContext.from_request(request, channel="web"), study_id=study_id
        )
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
    coordinator = is_coordinator(request.user)
    assignment = selectors.study_active_assignment(study=study)
    radiologist = radiologist_of(request.user)
    return render(
        request,
        "worklists/study.html",
        {
            "study": study,
            "risk": study.deadline_risk(now),
            "assignment": assignment,
            "events": selectors.study_events(study=study),
            "priors": priors,
            "identifiers": study.patient.identifiers.filter(identifiers_visible(site_ids)).order_by(
                "kind"
            ),
            "age": study.shown_patient.age_on(now.astimezone(study.site.zone).date()),
            "viewer_url": study.site.viewer_url(
                study_instance_uid=study.study_instance_uid,
                accession_number=study.accession_number,
            ),
            "is_coordinator": coordinator,
            "holds_it": radiologist is not None
            and assignment is not None
            and assignment.radiologist_id == radiologist.id,
            "decisions": selectors.routing_decisions(study=study) if coordinator else [],
            "alerts": selectors.study_open_alerts(study=study) if coordinator else [],
            "chooser": (
                study_candidates(user=request.user, study_id=study.id, now=now)
                if coordinator and study.is_unread
                else None
            ),
            "now": now,
            "now_ms": int(now.timestamp() * 1000),
        },
    )


@login_required
@require_POST
def worklist_next(request: HttpRequest) -> HttpResponse:
    """The "Read next" button: the first in the reader's reading order, opened for reading: a
    study claimed for them, or their task (a peer review) when it comes first."""
    radiologist = radiologist_of(request.user)
    if radiologist is None:
        messages.error(request, _("Only radiologists read studies."))
        return redirect("worklist")
    answer = reading_order_next(
        user=request.user,
        radiologist_id=radiologist.id,
        site_ids=visible_site_ids(request.user),
        actor=Actor.for_user(request.user),
    )
    if answer is None:
        messages.info(
            request,
            _("Nothing for you to read now: no unread study in your worklists, sites and shift."),
        )
        return redirect("worklist")
    return HttpResponseRedirect(answer.url)


@login_required
@require_POST
def study_assign_view(request: HttpRequest, study_id: int) -> HttpResponse:
    """A coordinator assigns or reassigns the study, with a reason (the service checks the
    role; to anyone else the study is not there)."""
    posted = request.POST.get("radiologist_id", "")
    radiologist_id = int(posted) if posted.isdecimal() else None
    try:
        assignment = study_coordinator_assign(
            study_id=study_id,
            radiologist_id=radiologist_id,
            actor=Actor.for_user(request.user),
            reason=request.POST.get("reason", ""),
        )
    except (NotPermitted, NotFound) as exc:
        raise Http404("No such study") from exc
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Assigned to %(name)s: %(reason)s")
            % {"name": assignment.radiologist.display_name, "reason": assignment.reason},
        )
    return redirect("study", study_id=study_id)


@login_required
@require_POST
def study_release_view(request: HttpRequest, study_id: int) -> HttpResponse:
    """The holder gives the study back to the pool."""
    radiologist = radiologist_of(request.user)
    if radiologist is None or not selectors.study_visible(user=request.user, study_id=study_id):
        raise Http404("No such study")
    try:
        study_release(
            study_id=study_id,
            radiologist_id=radiologist.id,
            actor=Actor.for_user(request.user),
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Released: the study is back in the pool."))
    return redirect("worklist")
