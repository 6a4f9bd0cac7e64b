"""The console's surge form and End button (worklists.services.surges does the rest).

Thin: parse the form, call one service, answer as the console's other actions do (htmx swaps
the live region; a plain post is redirected)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from worklists.actors import Actor
from worklists.console.views import console_answer as answer
from worklists.errors import DomainError, NotFound, NotPermitted
from worklists.models import Surge, Worklist
from worklists.services.surges import SurgeRefused, surge_end, surge_start


def end_time_from_form(*, until: str, now: dt.datetime) -> dt.datetime:
    """The end of a surge from the form's clock time ("HH:MM", the next one to come, in the
    platform's zone)."""
    if not until:
        raise SurgeRefused(_("Choose when the surge ends."), field="ends_at")
    try:
        clock = dt.time.fromisoformat(until)
    except ValueError as exc:
        raise SurgeRefused(_("Give the end time as HH:MM."), field="ends_at") from exc
    local = now.astimezone(timezone.get_current_timezone())
    candidate = dt.datetime.combine(local.date(), clock, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate += dt.timedelta(days=1)
    return candidate


def _worklist_id(code: str) -> int | None:
    """The worklist the form names by code; None for every worklist."""
    if not code:
        return None
    found = Worklist.objects.filter(code=code).values_list("id", flat=True).first()
    if found is None:
        raise SurgeRefused(_("No such worklist."), field="worklist_id")
    return found


def _optional_int(value: str, *, field: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise SurgeRefused(_("Choose from the list."), field=field) from exc


def _describe(surge: Surge) -> str:
    local = surge.ends_at.astimezone(timezone.get_current_timezone())
    return _("Surge started: %(worklist)s to %(tier)s until %(time)s.") % {
        "worklist": surge.worklist.name if surge.worklist else _("every worklist"),
        "tier": surge.get_tier_display(),
        "time": f"{local:%H:%M}",
    }


@login_required
@require_POST
def surge_start_view(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    try:
        surge = surge_start(
            actor=Actor.for_user(request.user),
            worklist_id=_worklist_id(request.POST.get("worklist", "")),
            tier=_optional_int(request.POST.get("tier", ""), field="tier"),
            reason=request.POST.get("reason", ""),
            ends_at=end_time_from_form(until=request.POST.get("until", ""), now=now),
            now=now,
        )
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except DomainError as exc:  # no reason, a time past or too far, nothing wider
        return answer(request, error=str(exc))
    return answer(request, notice=_describe(surge))


@login_required
@require_POST
def surge_end_view(request: HttpRequest, surge_id: int) -> HttpResponse:
    try:
        surge_end(actor=Actor.for_user(request.user), surge_id=surge_id)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:  # ended already
        return answer(request, error=str(exc))
    return answer(request, notice=_("Surge ended: routing is back to the escalation tiers."))
