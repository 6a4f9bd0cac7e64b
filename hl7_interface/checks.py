"""`manage.py check --database default`: sites that could not send HL7 as configured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks

from hl7_interface.services import sites_that_cannot_send
from teleradiology.listeners import unsendable_site_warnings


@checks.register(checks.Tags.security, checks.Tags.database)
def hl7_sites_have_allowed_addresses(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    return unsendable_site_warnings(
        databases=databases,
        sites_that_cannot_send=sites_that_cannot_send,
        hint="Set 'Allowed source addresses' in the site's HL7 configuration (admin).",
        check_id="hl7_interface.W001",
    )
