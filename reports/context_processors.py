"""What every page's navigation needs to know about the reporting app."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from worklists.access import is_coordinator, radiologist_of


def _keeps_macros(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and (radiologist_of(user) is not None or is_coordinator(user))


def navigation(request: HttpRequest) -> dict[str, object]:
    """``shows_macros``: readers keep their own macros and coordinators the shared ones, so
    both get the link; a site user has none. Lazy, so pages without the menu pay nothing."""
    return {"shows_macros": SimpleLazyObject(lambda: _keeps_macros(request))}
