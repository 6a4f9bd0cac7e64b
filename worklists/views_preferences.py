"""The language menu on every page: parse, store through the service, go back."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from worklists.locale import remember_language
from worklists.services.preferences import UnknownLanguage, user_language_set


@require_POST
def language_set_view(request: HttpRequest) -> HttpResponse:
    """Store a signed-in user's language; for anyone, also the cookie the login page reads."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("worklist")
    if request.user.is_authenticated:
        try:
            effective = user_language_set(user_id=request.user.pk, language=language)
        except UnknownLanguage:
            return HttpResponseBadRequest("unknown language")
        remember_language(request, language)
    elif language in {code for code, _name in settings.LANGUAGES}:
        effective = language
    elif language == "":
        effective = settings.LANGUAGE_CODE
    else:
        return HttpResponseBadRequest("unknown language")
    response = HttpResponseRedirect(next_url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        effective,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )
    return response
