"""What every page's navigation needs to know about the indicators."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from worklists.access import visible_site_ids


def navigation(request: HttpRequest) -> dict[str, object]:
    """``shows_indicators``: the menu links the indicators for whoever has figures to see (a
    coordinator, or a user who sees at least one site). Lazy, as the console's link."""

    def shows() -> bool:
        if not request.user.is_authenticated:
            return False
        site_ids = visible_site_ids(request.user)
        return site_ids is None or bool(site_ids)

    return {"shows_indicators": SimpleLazyObject(shows)}
