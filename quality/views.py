"""Peer-review pages: the reviews list, the score form's answer (the review itself opens on the
reading page: quality.reading_order), the figures and their CSV. Parse, call one service or
selector, render or redirect. Every study and report shown is audited."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from quality import selectors
from quality.models import ReviewTask
from quality.reading_order import KIND, review_reading_url
from quality.services.scoring import review_score
from reports.services.reading import study_read_next
from reports.views import NOTHING_LEFT, reading_task_response
from worklists.errors import DomainError
from worklists.models import AuditEvent
from worklists.services.audit import AccessContext, audit_refused_read, audit_study_reads

# How long an author is shown a significant discrepancy found in their report.
DISCREPANCY_DAYS = 30


def _visible_task(request: HttpRequest, review_id: int, viewer: selectors.Viewer) -> ReviewTask:
    task = selectors.review_get(viewer=viewer, task_id=review_id)
    if task is None:
        study_id = (
            ReviewTask.objects.filter(pk=review_id).values_list("study_id", flat=True).first()
        )
        if study_id is not None:
            audit_refused_read(
                context=AccessContext.from_request(request, channel="web"), study_id=study_id
            )
        raise Http404("No such review")
    return task


@login_required
def review_page(request: HttpRequest, review_id: int) -> HttpResponse:
    """A review opens on the reading page of its study (quality.reading_order); this address
    (links, bookmarks, the reassignment's answer) leads there."""
    task = _visible_task(request, review_id, selectors.viewer_of(request.user))
    return redirect(review_reading_url(study_id=task.study_id, review_id=task.id))


@login_required
@require_POST
def review_score_view(request: HttpRequest, review_id: int) -> HttpResponse:
    viewer = selectors.viewer_of(request.user)
    task = _visible_task(request, review_id, viewer)
    try:
        review_score(
            task_id=task.id,
            user=request.user,
            score=request.POST.get("score", ""),
            comment=request.POST.get("comment", ""),
        )
    except DomainError as refusal:
        # The reading page again, with the refusal and what was posted.
        return reading_task_response(
            request,
            study_id=task.study_id,
            kind=KIND,
            task_id=task.id,
            error=str(refusal),
            status=400,
        )
    messages.success(request, _("Review scored. Thank you."))
    if request.POST.get("then") != "next":
        return redirect("worklist")
    # "Score and next", as a report's "Sign and next": on by the read-next rule (the review
    # just scored is no longer the reader's task).
    following = study_read_next(user=request.user)  # type: ignore[arg-type]
    if following is None:
        messages.info(request, _(NOTHING_LEFT))
        return redirect("worklist")
    return redirect(following.url)


@login_required
def reviews_page(request: HttpRequest) -> HttpResponse:
    """The reader's open reviews, the significant discrepancies in their own reports; for a
    coordinator also the reviews waiting for a reviewer."""
    now = timezone.now()
    viewer = selectors.viewer_of(request.user)
    mine = selectors.my_open_reviews(viewer=viewer)
    waiting = selectors.reviews_waiting(viewer=viewer)
    discrepancies = selectors.discrepancies_of_author(
        viewer=viewer, since=now - dt.timedelta(days=DISCREPANCY_DAYS)
    )
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=[t.study for t in (*mine, *waiting, *discrepancies)],
        action=AuditEvent.Action.STUDY_LIST,
    )
    return render(
        request,
        "quality/reviews.html",
        {
            "mine": [(t, selectors.author_shown_to(t, viewer)) for t in mine],
            "waiting": waiting,
            "discrepancies": discrepancies,
            "is_coordinator": viewer.coordinator,
            "is_reader": viewer.radiologist_id is not None,
            "now": now,
        },
    )


def _figures_period(request: HttpRequest) -> tuple[dt.datetime | None, dt.datetime | None, str]:
    """The period asked for: ``from``/``to`` dates (both days included, on the platform's
    clock: the indicators page links here with its period), else ``days`` back from now (30,
    90, 365; 0: all time; default 365). Unreadable input falls back to the default."""
    days_asked = _dates(request.GET.get("from", ""), request.GET.get("to", ""))
    if days_asked is not None:
        first_day, last_day = days_asked
        start = timezone.make_aware(dt.datetime.combine(first_day, dt.time()))
        end = timezone.make_aware(dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time()))
        return start, end, f"{first_day}_{last_day}"
    try:
        days = int(request.GET.get("days", "365"))
    except ValueError:
        days = 365
    days = days if days in (0, 30, 90, 365) else 365
    since = None if days == 0 else timezone.now() - dt.timedelta(days=days)
    return since, None, str(days)


def _dates(first: str, last: str) -> tuple[dt.date, dt.date] | None:
    """Two ISO dates in order, or None."""
    try:
        first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except ValueError:
        return None
    return (first_day, last_day) if first_day <= last_day else None


@login_required
def review_figures_page(request: HttpRequest) -> HttpResponse:
    since, until, days = _figures_period(request)
    figures = selectors.review_figures(
        viewer=selectors.viewer_of(request.user), since=since, until=until
    )
    return render(
        request,
        "quality/figures.html",
        {"figures": figures, "days": days, "query": request.GET.urlencode()},
    )


@login_required
def review_figures_csv(request: HttpRequest) -> HttpResponse:
    since, until, days = _figures_period(request)
    figures = selectors.review_figures(
        viewer=selectors.viewer_of(request.user), since=since, until=until
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="peer-review-{days}d.csv"'
    writer = csv.writer(response)
    writer.writerows(selectors.figures_csv_rows(figures))
    return response


def worklist_reviews_panel(*, request: HttpRequest, now: dt.datetime) -> str:
    """The worklist page's panel (a core hook): the significant discrepancies in the reader's
    own reports; a coordinator's count of reviews waiting for a reviewer. Empty when there is
    nothing. (The reader's open reviews are in their queue, in reading order:
    quality.reading_order.)"""
    viewer = selectors.viewer_of(request.user)
    if not viewer.has_reviews:
        return ""  # a site's staff: two queries, and nothing
    discrepancies = selectors.discrepancies_of_author(
        viewer=viewer, since=now - dt.timedelta(days=DISCREPANCY_DAYS)
    )
    waiting = selectors.reviews_waiting(viewer=viewer)
    if not (discrepancies or waiting):
        return ""
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=[t.study for t in (*discrepancies, *waiting)],
        action=AuditEvent.Action.STUDY_LIST,
    )
    return render_to_string(
        "quality/_worklist_panel.html",
        {
            "discrepancies": discrepancies,
            "waiting_count": len(waiting),
            "now": now,
        },
        request=request,
    )
