"""Sending built outbox messages to the sites' RIS over MLLP, no transaction or lock open."""

from __future__ import annotations

import dataclasses

from django.conf import settings

from hl7_interface.claims import Claim
from hl7_interface.client import MllpClient, MllpError


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    claim: Claim
    host: str
    port: int | None
    control_id: str
    payload: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    error: str = ""
    ack_code: str = ""
    ack_message: str = ""


def send_all(prepared: list[Prepared]) -> list[tuple[Claim, Outcome]]:
    """Send each message over one connection per RIS endpoint, in order, waiting for ACKs."""
    results: list[tuple[Claim, Outcome]] = []
    clients: dict[tuple[str, int], MllpClient] = {}
    failed: dict[tuple[str, int], str] = {}
    try:
        for item in prepared:
            if not item.host or not item.port:
                results.append(
                    (item.claim, Outcome(False, "the site has no RIS endpoint configured"))
                )
                continue
            endpoint = (item.host, item.port)
            if endpoint in failed:
                # One refused connection is enough: the rest for this RIS wait for their retry.
                results.append((item.claim, Outcome(False, failed[endpoint])))
                continue
            try:
                client = clients.get(endpoint)
                if client is None:
                    client = clients[endpoint] = MllpClient(
                        item.host,
                        item.port,
                        connect_timeout=settings.HL7_CONNECT_TIMEOUT_SECONDS,
                        timeout=settings.HL7_ACK_TIMEOUT_SECONDS,
                    )
                ack = client.send_message(item.payload)
            except MllpError as exc:
                failed[endpoint] = str(exc)
                stale = clients.pop(endpoint, None)
                if stale is not None:
                    stale.close()
                results.append((item.claim, Outcome(False, str(exc))))
                continue
            answer = ack.raw.decode("utf-8", errors="replace")
            if ack.control_id and ack.control_id != item.control_id:
                error = f"the ACK is for message {ack.control_id!r}, not {item.control_id!r}"
                results.append((item.claim, Outcome(False, error, ack.code, answer)))
            elif ack.accepted:
                results.append((item.claim, Outcome(True, "", ack.code, answer)))
            else:
                error = f"the RIS answered {ack.code}: {ack.text or 'no reason given'}"
                results.append((item.claim, Outcome(False, error, ack.code, answer)))
    finally:
        for client in clients.values():
            client.close()
    return results
