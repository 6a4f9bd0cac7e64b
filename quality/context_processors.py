"""What every page's navigation needs to know about peer review."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from worklists.access import is_coordinator, radiologist_of


def navigation(request: HttpRequest) -> dict[str, object]:
    """``shows_reviews``: the menu links the reviews page for radiologists (their reviews and
    their own figures) and coordinators. Lazy: only a page that renders the menu asks."""

    def shows() -> bool:
        user = request.user
        return user.is_authenticated and (is_coordinator(user) or radiologist_of(user) is not None)

    return {"shows_reviews": SimpleLazyObject(shows)}
