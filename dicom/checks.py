"""`manage.py check --database default`: sites that could not send DICOM as configured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks

from dicom.models import DicomSiteSettings
from teleradiology.listeners import addresses_required, parse_networks, unsendable_site_warnings
from worklists.models import Site


def sites_that_cannot_send() -> list[str]:
    """Active sites with a calling AE title whose associations would all be refused because no
    source address is configured for them (outside the embedded demo)."""
    if not addresses_required():
        return []
    active = Site.objects.filter(is_active=True).exclude(dicom_ae_title="")
    allowed = dict(
        DicomSiteSettings.objects.filter(site__in=active).values_list(
            "site_id", "allowed_source_addresses"
        )
    )
    problems = []
    for site in active.order_by("code").only("id", "code", "dicom_ae_title"):
        try:
            networks = parse_networks(allowed.get(site.id, ""))
        except ValueError as exc:
            problems.append(f"site {site.code}: allowed source addresses are not valid ({exc})")
            continue
        if not networks:
            problems.append(
                f"site {site.code} (AE {site.dicom_ae_title!r}) has no allowed source addresses "
                "in its DICOM site settings: its associations are refused"
            )
    return problems


@checks.register(checks.Tags.security, checks.Tags.database)
def dicom_sites_have_allowed_addresses(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    return unsendable_site_warnings(
        databases=databases,
        sites_that_cannot_send=sites_that_cannot_send,
        hint="Set 'Allowed source addresses' in the site's DICOM site settings (admin).",
        check_id="dicom.W001",
    )
