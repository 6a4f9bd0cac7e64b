"""The coordinator's console: one page, updated in place, and its alert actions.

Thin: parse, call one selector or service, shape. Who may see it is decided by the selectors
and services (``require_coordinator``); a non-coordinator gets 403 from them.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from worklists.actors import Actor
from worklists.console import selectors
from worklists.console.candidates import study_candidates
from worklists.errors import DomainError, NotFound, NotPermitted
from worklists.hooks import console_panels
from worklists.models import AuditEvent
from worklists.services.alerts import SnoozeRefused, alert_acknowledge, alert_snooze
from worklists.services.audit import AccessContext, audit_study_reads
from worklists.services.claims import study_coordinator_assign

SNOOZE_CHOICES_MINUTES = (30, 60, 120, 240)


def _render_console(request: HttpRequest, *, notice: str = "", error: str = "") -> HttpResponse:
    try:
        view = selectors.console(user=request.user)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=view.studies_shown(),
        action=AuditEvent.Action.STUDY_LIST,
    )
    now = view.now
    panels = [panel.render(request=request, now=now) for panel in console_panels()]
    return render(
        request,
        "worklists/console/console.html",
        {
            "console": view,
            "now": now,
            "now_ms": int(now.timestamp() * 1000),
            "snooze_choices": SNOOZE_CHOICES_MINUTES,
            "snooze_default": (now + dt.timedelta(hours=1)).astimezone(
                timezone.get_current_timezone()
            ),
            "notice": notice,
            "error": error,
            "on_shift_count": sum(1 for r in view.load if r.on_shift),
            "console_panels": panels,
            "surges": view.surges,
            "surge_max_hours": settings.CONSOLE_SURGE_MAX_HOURS,
            "surge_default_end": (now + dt.timedelta(hours=2)).astimezone(
                timezone.get_current_timezone()
            ),
        },
    )


@login_required
@require_GET
def console_page(request: HttpRequest) -> HttpResponse:
    return _render_console(request)


def console_answer(request: HttpRequest, *, notice: str = "", error: str = "") -> HttpResponse:
    """htmx swaps the console's live region from the answer; a plain form post is redirected."""
    if request.headers.get("HX-Request") == "true":
        return _render_console(request, notice=notice, error=error)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect("console")


@login_required
@require_POST
def alert_acknowledge_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    try:
        selectors.alert_get(user=request.user, alert_id=alert_id)
        alert_acknowledge(alert_id=alert_id, user=request.user)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:  # already acknowledged or resolved
        return console_answer(request, error=str(exc))
    return console_answer(request, notice=_("Alert acknowledged."))


def snooze_until(*, minutes: str, until: str, now: dt.datetime) -> dt.datetime:
    """The end of a snooze from the form: a clock time ("HH:MM", the next one to come, in the
    platform's zone), else a number of minutes from now."""
    if until:
        try:
            clock = dt.time.fromisoformat(until)
        except ValueError as exc:
            raise SnoozeRefused(_("Give the time as HH:MM.")) from exc
        local = now.astimezone(timezone.get_current_timezone())
        candidate = dt.datetime.combine(local.date(), clock, tzinfo=local.tzinfo)
        if candidate <= local:
            candidate = dt.datetime.combine(
                local.date() + dt.timedelta(days=1), clock, tzinfo=local.tzinfo
            )
        return candidate
    try:
        return now + dt.timedelta(minutes=int(minutes))
    except ValueError as exc:
        raise SnoozeRefused(_("Choose how long to snooze.")) from exc


@login_required
@require_POST
def alert_snooze_view(request: HttpRequest, alert_id: int) -> HttpResponse:
    now = timezone.now()
    try:
        selectors.alert_get(user=request.user, alert_id=alert_id)
        until = snooze_until(
            minutes=request.POST.get("minutes", ""), until=request.POST.get("until", ""), now=now
        )
        alert = alert_snooze(alert_id=alert_id, user=request.user, until=until, now=now)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:  # a time past or too far, or already acknowledged
        return console_answer(request, error=str(exc))
    assert alert.snoozed_until is not None
    shown = alert.snoozed_until.astimezone(timezone.get_current_timezone())
    return console_answer(
        request, notice=_("Alert snoozed until %(time)s.") % {"time": f"{shown:%H:%M}"}
    )


@login_required
@require_GET
def candidates_view(request: HttpRequest, study_id: int) -> HttpResponse:
    """The assign chooser for one study (htmx loads it into the console's dialog)."""
    try:
        chooser = study_candidates(user=request.user, study_id=study_id)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=[chooser.study],
        action=AuditEvent.Action.STUDY_VIEW,
    )
    return render(
        request,
        "worklists/console/_chooser.html",
        {"chooser": chooser, "now": chooser.now, "from_console": True},
    )


@login_required
@require_POST
def console_assign_view(request: HttpRequest, study_id: int) -> HttpResponse:
    """Assign from the console's chooser; the console answers with its region brought up to
    date (the service checks the role and the reason)."""
    posted = request.POST.get("radiologist_id", "")
    try:
        assignment = study_coordinator_assign(
            study_id=study_id,
            radiologist_id=int(posted) if posted.isdecimal() else None,
            actor=Actor.for_user(request.user),
            reason=request.POST.get("reason", ""),
        )
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:
        return console_answer(request, error=str(exc))
    return console_answer(
        request,
        notice=_("%(accession)s assigned to %(name)s.")
        % {
            "accession": assignment.study.accession_number,
            "name": assignment.radiologist.display_name,
        },
    )
