"""`manage.py check --database default`: sites that could not send HL7 as configured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db import DatabaseError


@checks.register(checks.Tags.security, checks.Tags.database)
def hl7_sites_have_allowed_addresses(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    # Database checks run only when asked for a database (check --database, migrate, tests).
    if not databases:
        return []
    from hl7_interface.services import sites_that_cannot_send

    try:
        problems = sites_that_cannot_send()
    except DatabaseError:
        return []  # not migrated yet: nothing configured to check
    return [
        checks.Warning(
            problem,
            hint="Set 'Allowed source addresses' in the site's HL7 configuration (admin).",
            id="hl7_interface.W001",
        )
        for problem in problems
    ]
