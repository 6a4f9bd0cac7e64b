"""What the HL7 and DICOM listeners share about who may connect: per-site address lists and
server TLS contexts built from settings."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable, Sequence

from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError
from django.db import DatabaseError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ADDRESS_LIST_HELP = (
    "Comma-separated addresses or networks (CIDR, e.g. 192.0.2.10, 198.51.100.0/28) the site "
    "sends from. Required outside the embedded demo: without it the site cannot send."
)


def parse_networks(text: str) -> tuple[Network, ...]:
    """The networks of an address list; ValueError names the first entry that is not one."""
    networks = []
    for part in text.split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an IP address or network") from exc
    return tuple(networks)


def validate_address_list(value: str) -> None:
    try:
        parse_networks(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_address") from exc


def addresses_required() -> bool:
    """Whether a site without allowed addresses is refused (everywhere but the embedded demo)."""
    return bool(settings.LISTENER_REQUIRE_ALLOWED_ADDRESSES)


def require_addresses(value: str, *, field: str) -> None:
    """The configuration-time error for a site that could not send (model clean)."""
    try:
        networks = parse_networks(value or "")
    except ValueError:
        return  # the field's own validator reports it
    if addresses_required() and not networks:
        raise ValidationError(
            {
                field: "Required outside the embedded demo: list the addresses or networks this "
                "site sends from; a site without them cannot send."
            },
            code="required_outside_demo",
        )


def address_allowed(peer: str, networks: tuple[Network, ...]) -> bool:
    """Whether ``peer`` may send for a site allowing ``networks``. No networks means anyone on
    the embedded demo and no one elsewhere."""
    if not networks:
        return not addresses_required()
    try:
        address = ipaddress.ip_address(peer.strip("[]"))
    except ValueError:
        return False
    # An IPv4 peer can arrive as an IPv4-mapped IPv6 address on a dual-stack socket.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def server_tls_context(
    *, cert_file: str, key_file: str, client_ca_file: str
) -> ssl.SSLContext | None:
    """A server context when a certificate is configured, else None (plain TCP). With a client
    CA every client must present a certificate signed by it (mutual TLS)."""
    if not cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert_file, keyfile=key_file or None)
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def hl7_tls_context() -> ssl.SSLContext | None:
    return server_tls_context(
        cert_file=settings.HL7_TLS_CERT_FILE,
        key_file=settings.HL7_TLS_KEY_FILE,
        client_ca_file=settings.HL7_TLS_CLIENT_CA_FILE,
    )


def dicom_tls_context() -> ssl.SSLContext | None:
    return server_tls_context(
        cert_file=settings.DICOM_TLS_CERT_FILE,
        key_file=settings.DICOM_TLS_KEY_FILE,
        client_ca_file=settings.DICOM_TLS_CLIENT_CA_FILE,
    )


def unsendable_site_warnings(
    *,
    databases: Sequence[str] | None,
    sites_that_cannot_send: Callable[[], list[str]],
    hint: str,
    check_id: str,
) -> list[checks.CheckMessage]:
    """The system check both listeners run: a warning per site whose sender would be refused
    for want of allowed addresses. Only when a database is asked for (check --database,
    migrate, tests), and nothing before the tables exist."""
    if not databases:
        return []
    try:
        problems = sites_that_cannot_send()
    except DatabaseError:
        return []  # not migrated yet: nothing configured to check
    return [checks.Warning(problem, hint=hint, id=check_id) for problem in problems]
