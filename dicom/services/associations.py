"""Who may send: the calling AE title names the site; unknown callers are refused and logged."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from django.utils import timezone

from dicom.models import DicomSiteSettings, RejectedAssociation
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


def _same_address(peer: str, allowed: str) -> bool:
    try:
        peer_ip = ipaddress.ip_address(peer)
        allowed_ip = ipaddress.ip_address(allowed)
    except ValueError:
        return False
    # An IPv4 peer can arrive as an IPv4-mapped IPv6 address on a dual-stack socket.
    if isinstance(peer_ip, ipaddress.IPv6Address) and peer_ip.ipv4_mapped is not None:
        peer_ip = peer_ip.ipv4_mapped
    return peer_ip == allowed_ip


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
        allowed = settings_row.allowed_address if settings_row else None
        if allowed and not _same_address(peer_address, allowed):
            raise AssociationRefused(
                f"calling AE title {calling!r} of site {site.code} is accepted only from "
                f"{allowed}, not from {peer_address}",
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
