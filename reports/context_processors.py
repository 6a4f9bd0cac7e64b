"""What every page's navigation needs to know about the reporting app."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from worklists.access import is_coordinator, radiologist_of
from worklists.models import SiteMembership


def _keeps_macros(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and (radiologist_of(user) is not None or is_coordinator(user))


def _works_for_a_site(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and SiteMembership.objects.filter(user_id=user.pk).exists()


def navigation(request: HttpRequest) -> dict[str, object]:
    """``shows_macros``: readers keep their own macros and coordinators the shared ones, so
    both get the link; a site user has none. ``shows_portal``: a site's staff open the site
    portal (coordinators too: the menu asks ``shows_console`` first, which it knows already).
    Lazy, so pages without the menu pay nothing."""
    return {
        "shows_macros": SimpleLazyObject(lambda: _keeps_macros(request)),
        "shows_portal": SimpleLazyObject(lambda: _works_for_a_site(request)),
    }
