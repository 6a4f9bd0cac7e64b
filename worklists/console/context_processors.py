"""What every page's navigation needs to know about the console."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from worklists.access import is_coordinator


def navigation(request: HttpRequest) -> dict[str, object]:
    """``shows_console``: the menu links the console for coordinators. Lazy: a page without the
    menu (a row fragment, an API answer) pays no query for it."""
    return {"shows_console": SimpleLazyObject(lambda: is_coordinator(request.user))}
