"""Building outgoing HL7 v2 messages: segments, MSH and acknowledgements (the messages a site's
RIS gets from us, ORU^R01 results and ORC-1 OC returns, are built in ris_messages.py).

Pure functions over plain data; every text value goes through ``escape``, so a separator in a
report or a name can never leak into the message structure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import os
import zoneinfo
from collections.abc import Sequence

from hl7_interface.codec import (
    CHARSETS,
    DEFAULT_SEPARATORS,
    ERROR_NAMES,
    Header,
    Hl7Error,
    Separators,
    escape,
)
from hl7_interface.datetimes import format_datetime

_counter = itertools.count(1)
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base36(number: int, width: int) -> str:
    out = ""
    for _ in range(width):
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
    return out


def new_control_id(prefix: str = "A") -> str:
    """Unique per process and time (MSH-10 of what we send; at most 20 characters): time in
    milliseconds, process id and a counter, in base 36."""
    millis = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    return f"{prefix[:3]}{_base36(millis, 9)}{_base36(os.getpid(), 4)}{_base36(next(_counter), 4)}"


def components(*values: str, seps: Separators = DEFAULT_SEPARATORS) -> str:
    """Escaped components joined by the component separator, trailing empties dropped."""
    parts = [escape(v, seps) for v in values]
    while parts and not parts[-1]:
        parts.pop()
    return seps.component.join(parts)


def segment(name: str, *fields: str, seps: Separators = DEFAULT_SEPARATORS) -> str:
    """A segment from already-encoded fields (field 1 first); trailing empty fields dropped."""
    values = list(fields)
    while values and not values[-1]:
        values.pop()
    return seps.field.join([name, *values])


def msh(
    *,
    sending_application: str,
    sending_facility: str,
    receiving_application: str,
    receiving_facility: str,
    at: dt.datetime,
    zone: zoneinfo.ZoneInfo,
    message_type: str,
    control_id: str,
    processing_id: str,
    version: str,
    charset: str,
    seps: Separators = DEFAULT_SEPARATORS,
) -> str:
    # MSH-1 is the field separator itself, so MSH-2 comes straight after "MSH|".
    return seps.field.join(
        [
            "MSH",
            seps.encoding_characters,
            escape(sending_application, seps),
            escape(sending_facility, seps),
            escape(receiving_application, seps),
            escape(receiving_facility, seps),
            format_datetime(at, zone),
            "",
            message_type,
            escape(control_id, seps),
            processing_id or "P",
            version,
            "",
            "",
            "",
            "",
            "",
            charset,
        ]
    ).rstrip(seps.field)


def encode(segments: Sequence[str], *, charset: str) -> bytes:
    codec = CHARSETS.get(charset or "UNICODE UTF-8", "utf-8")
    # An ACK echoes what it was sent in; text that charset cannot hold becomes "?" rather than
    # failing the acknowledgement.
    return "\r".join(segments).encode(codec, errors="replace") + b"\r"


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Our side of the conversation (MSH-3/4 on what we send)."""

    application: str
    facility: str


def build_ack(
    *,
    header: Header | None,
    code: str,
    identity: Identity,
    error: Hl7Error | None = None,
    text: str = "",
    at: dt.datetime | None = None,
) -> bytes:
    """An ACK for ``header`` (None: the message was unreadable; answered with defaults)."""
    seps = header.seps if header else DEFAULT_SEPARATORS
    charset = header.charset if header and header.charset in CHARSETS else ""
    moment = at or dt.datetime.now(dt.UTC)
    trigger = header.trigger_event if header else ""
    lines = [
        msh(
            sending_application=identity.application,
            sending_facility=identity.facility,
            receiving_application=header.sending_application if header else "",
            receiving_facility=header.sending_facility if header else "",
            at=moment,
            zone=zoneinfo.ZoneInfo("UTC"),
            message_type=seps.component.join(p for p in ("ACK", trigger, "ACK") if p)
            if trigger
            else "ACK",
            control_id=new_control_id(),
            processing_id=header.processing_id if header else "P",
            version=(header.version if header and header.version else "2.5"),
            charset=charset,
            seps=seps,
        )
    ]
    message = text or (error.describe() if error else "")
    lines.append(
        segment(
            "MSA",
            code,
            escape(header.control_id if header else "", seps),
            escape(message[:80], seps),
            seps=seps,
        )
    )
    if error is not None:
        location = ""
        if error.segment:
            location = seps.component.join(
                p
                for p in (
                    error.segment,
                    "1",
                    str(error.field) if error.field else "",
                    "1" if error.field else "",
                    str(error.component) if error.component else "",
                )
                if p
            )
        name = ERROR_NAMES.get(error.error_code, "Application error")
        lines.append(
            segment(
                "ERR",
                "",
                location,
                components(error.error_code, name, "HL70357", seps=seps),
                "E",
                "",
                "",
                "",
                escape(error.describe(), seps),
                seps=seps,
            )
        )
    return encode(lines, charset=charset)
