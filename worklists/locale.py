"""The language each page speaks: the signed-in user's choice, kept in their session.

Anonymous pages (the login page) are left to Django's LocaleMiddleware: the language cookie the
menu sets, then the browser's Accept-Language, then LANGUAGE_CODE. For a signed-in user the
stored preference wins, else LANGUAGE_CODE: the browser of a shared reading workstation says
little about the person at it. The choice is read once, at login, into the session, so a page
costs no query for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from worklists.services.preferences import user_language_get

SESSION_LANGUAGE_KEY = "telerad_language"


def remember_language(request: HttpRequest, language: str) -> None:
    """Keep ``language`` ("" for the platform default) for the rest of this session."""
    request.session[SESSION_LANGUAGE_KEY] = language


@receiver(user_logged_in, dispatch_uid="worklists.locale.language_at_login")
def language_at_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        remember_language(request, user_language_get(user_id=user.pk))


class UserLanguageMiddleware:
    """After AuthenticationMiddleware: activate the signed-in user's language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            language = session.get(SESSION_LANGUAGE_KEY)
            if language is None:
                # A session from before this preference existed: read it once.
                language = user_language_get(user_id=int(session[SESSION_KEY]))
                remember_language(request, language)
            language = language or settings.LANGUAGE_CODE
            request.LANGUAGE_CODE = language
            # Only for this request: the thread goes back to what it spoke before (a thread
            # serves many users; code after the response must not speak this user's language).
            with translation.override(language):
                response = self.get_response(request)
            # LocaleMiddleware (outside this one) keeps a Content-Language already set.
            response.headers.setdefault("Content-Language", language)
            return response
        return self.get_response(request)
