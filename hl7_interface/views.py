"""The HL7 interface's pages: the console's re-send of a dead-lettered delivery.

Thin: the service checks the role and the scope; the answer is the console's own (its live
region re-rendered for htmx, a redirect to it otherwise)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hl7_interface.dead_letters import dead_letter_resend
from worklists.console.views import console_answer
from worklists.errors import DomainError, NotFound, NotPermitted


@login_required
@require_POST
def dead_letter_resend_view(request: HttpRequest, message_id: int) -> HttpResponse:
    try:
        message = dead_letter_resend(message_id=message_id, user=request.user)
    except NotPermitted as exc:
        raise PermissionDenied(str(exc)) from exc
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    except DomainError as exc:  # re-sent already by another coordinator
        return console_answer(request, error=str(exc))
    return console_answer(
        request,
        notice=_("Delivery for %(accession)s queued to be sent again.")
        % {"accession": message.study.accession_number},
    )
