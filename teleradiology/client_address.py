"""The client address of a request: the peer, or what a trusted proxy says the peer was.

``X-Forwarded-For`` is any client's to set, so it is read only when the direct peer
(``REMOTE_ADDR``) is one of ``settings.TRUSTED_PROXIES``. Then the header is walked from the
right (the entry the nearest proxy appended) past every trusted proxy; the first untrusted
address is the client. Lock-outs (django-axes) and the audit trail both use this one function.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in proxies if cidr)


def trusted_networks() -> tuple[IpNetwork, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))


def _parse(text: str) -> IpAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:5123"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IpAddress, networks: tuple[IpNetwork, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(request: HttpRequest) -> str | None:
    """The address of the client that sent ``request``, or None when it cannot be known."""
    peer = _parse(request.META.get("REMOTE_ADDR", "") or "")
    if peer is None:
        return None
    networks = trusted_networks()
    if not networks or not _is_trusted(peer, networks):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    client = peer
    for entry in reversed([part for part in forwarded.split(",") if part.strip()]):
        hop = _parse(entry)
        if hop is None:
            break  # garbage from before the trusted chain: stop at the last address we trust
        client = hop
        if not _is_trusted(hop, networks):
            break
    return str(client)
