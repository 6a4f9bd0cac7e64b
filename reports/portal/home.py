"""Where a site's staff land after signing in (registered with worklists.hooks)."""

from __future__ import annotations

from django.urls import reverse

from reports.portal.selectors import is_site_user
from worklists.access import AnyUser


def portal_home_page(user: AnyUser) -> str | None:
    return reverse("site-portal") if is_site_user(user) else None
