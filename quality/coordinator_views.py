"""A coordinator's controls on the review page: reassigning a review to another reviewer.
Parse, call the service, redirect back with what happened."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from quality.services.reassignment import review_reassign
from worklists.errors import DomainError, NotFound, NotPermitted


@login_required
@require_POST
def review_reassign_view(request: HttpRequest, review_id: int) -> HttpResponse:
    try:
        reviewer_id = int(request.POST.get("reviewer_id", ""))
    except ValueError:
        reviewer_id = 0  # nobody: the service refuses it as not eligible
    try:
        review_reassign(
            task_id=review_id,
            user=request.user,
            reviewer_id=reviewer_id,
            reason=request.POST.get("reason", ""),
        )
    except NotFound as refusal:
        raise Http404(str(refusal)) from refusal
    except NotPermitted as refusal:
        return HttpResponseForbidden(str(refusal))
    except DomainError as refusal:
        messages.error(request, str(refusal))
        return redirect("review", review_id=review_id)
    messages.success(request, _("Review reassigned."))
    return redirect("review", review_id=review_id)
