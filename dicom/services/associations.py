"""Who may send: the calling AE title names the site; unknown callers are refused and logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from dicom.models import DicomSiteSettings, RejectedAssociation
from teleradiology.listeners import address_allowed, parse_networks
from worklists.models import Site

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SiteContext:
    """The site an association speaks for, resolved once when it is accepted."""

    site_id: int
    site_code: str
    calling_ae_title: str
    peer_address: str


class AssociationRefused(Exception):
    """The association is refused; ``diagnostic`` is the A-ASSOCIATE-RJ reason code."""

    CALLING_AE_NOT_RECOGNISED = 0x03
    CALLED_AE_NOT_RECOGNISED = 0x07

    def __init__(self, reason: str, *, diagnostic: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.diagnostic = diagnostic


def association_authorize(
    *, calling_ae_title: str, called_ae_title: str, peer_address: str, our_ae_title: str
) -> SiteContext:
    """The site behind ``calling_ae_title``; AssociationRefused (logged) if there is none."""
    calling = calling_ae_title.strip()
    called = called_ae_title.strip()
    try:
        if called != our_ae_title.strip():
            raise AssociationRefused(
                f"called AE title {called!r} is not this receiver ({our_ae_title.strip()!r})",
                diagnostic=AssociationRefused.CALLED_AE_NOT_RECOGNISED,
            )
        site = Site.objects.filter(dicom_ae_title=calling).first() if calling else None
        if site is None:
            raise AssociationRefused(
                f"calling AE title {calling!r} belongs to no site",
                diagnostic=AssociationRefused.CALLING_AE_NOT_RECOGNISED,
            )
        if not site.is_active:
            raise AssociationRefused(
                f"calling AE title {calling!r} belongs to inactive site {site.code}",
                diagnostic=AssociationRefused.CALLING_AE_NOT_RECOGNISED,
            )
        settings_row = DicomSiteSettings.objects.filter(site=site).first()
        allowed = settings_row.allowed_source_addresses if settings_row else ""
        try:
            networks = parse_networks(allowed)
        except ValueError as exc:
            # Saved past the form's validation: refuse rather than guess.
            raise AssociationRefused(
                f"allowed source addresses of site {site.code} are not valid: {exc}",
                diagnostic=AssociationRefused.CALLING_AE_NOT_RECOGNISED,
            ) from exc
        if not address_allowed(peer_address, networks):
            raise AssociationRefused(
                f"calling AE title {calling!r} of site {site.code} is accepted only from "
                f"{allowed}, not from {peer_address}"
                if allowed
                else f"site {site.code} has no allowed source addresses configured: outside "
                "the embedded demo it cannot send",
                diagnostic=AssociationRefused.CALLING_AE_NOT_RECOGNISED,
            )
    except AssociationRefused as refused:
        logger.warning("DICOM association refused: %s", refused.reason)
        RejectedAssociation.objects.create(
            at=timezone.now(),
            calling_ae_title=calling[:16],
            called_ae_title=called[:16],
            peer_address=peer_address[:64],
            reason=refused.reason[:300],
        )
        raise
    return SiteContext(
        site_id=site.id, site_code=site.code, calling_ae_title=calling, peer_address=peer_address
    )
