"""What every page's navigation needs to know about the reporting app."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from worklists.access import COORDINATORS_GROUP, is_coordinator, radiologist_of


def _keeps_macros(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and (radiologist_of(user) is not None or is_coordinator(user))


def _opens_portal(request: HttpRequest) -> bool:
    """A site's staff and coordinators (selectors.portal_access decides again): one query."""
    user = request.user
    return (
        user.is_authenticated
        and get_user_model()
        .objects.filter(
            Q(site_membership__isnull=False)
            | Q(is_superuser=True)
            | Q(groups__name=COORDINATORS_GROUP),
            pk=user.pk,
        )
        .exists()
    )


def navigation(request: HttpRequest) -> dict[str, object]:
    """``shows_macros``: readers keep their own macros and coordinators the shared ones, so
    both get the link; a site user has none. ``shows_portal``: a site's staff and coordinators
    open the site portal. Lazy, so pages without the menu pay nothing."""
    return {
        "shows_macros": SimpleLazyObject(lambda: _keeps_macros(request)),
        "shows_portal": SimpleLazyObject(lambda: _opens_portal(request)),
    }
