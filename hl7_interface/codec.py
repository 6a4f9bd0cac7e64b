"""HL7 v2 pipe-and-hat codec: pure Python, no Django. MLLP framing is in mllp.py, dates and
times in datetimes.py.

Our own, not python-hl7's, because the hot path measured several times faster this way
(benchmarks/bench_hl7.py, section hl7: 300-500 realistic messages, three runs on a loaded
2-core machine, run-to-run spread of one side 30-150 %, ratios stable): an order's bytes to
the command the order services take (header, parse, mapping) 472 against 2181 us with
python-hl7 (4.2-4.9x over the runs); the parse alone 28 against 761 us (12-27x: python-hl7
builds an object per field, repetition and component; the listener reads a handful of fields);
a result's report text 70 against 2134 us (17-30x); an ACK 138 against 956 us (6.9-8.6x).
python-hl7 stays as a test-only oracle: tests/test_hl7_codec_oracle.py checks that both read
every component of a corpus of messages (escapes, repetitions, components, subcomponents,
other separators) the same.

Strict where a wrong guess would misfile a patient: the header is validated before anything is
read from it, and every error names the segment, field and value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

# MSH-18 values and the Python codecs they name. Empty MSH-18 means the site's default.
CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "8859/1": "latin-1",
    "ASCII": "ascii",
}


class Hl7Error(Exception):
    """What is wrong with a message, where, and how to acknowledge it.

    ``ack_code`` is AE (content error: fix and resend) or AR (rejected: unsupported type,
    unknown sender, unreadable envelope); ``error_code`` is from HL7 table 0357.
    """

    def __init__(
        self,
        text: str,
        *,
        segment: str = "",
        field: int = 0,
        component: int = 0,
        value: str = "",
        ack_code: str = "AE",
        error_code: str = "207",
    ) -> None:
        self.text = text
        self.segment = segment
        self.field = field
        self.component = component
        self.value = value
        self.ack_code = ack_code
        self.error_code = error_code
        super().__init__(self.describe())

    @property
    def location(self) -> str:
        if not self.segment:
            return ""
        where = f"{self.segment}-{self.field}" if self.field else self.segment
        return f"{where}.{self.component}" if self.component else where

    def describe(self) -> str:
        parts = [self.location] if self.location else []
        parts.append(self.text)
        if self.value:
            parts.append(f"(value {self.value!r})")
        return " ".join(parts) if len(parts) < 2 else f"{parts[0]}: {' '.join(parts[1:])}"


ERROR_NAMES = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "207": "Application internal error",
}

# --- Separators and escapes ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Separators:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent


DEFAULT_SEPARATORS = Separators()


def unescape(value: str, seps: Separators = DEFAULT_SEPARATORS) -> str:
    """Decode HL7 escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\.br\\ \\Xhh\\)."""
    esc = seps.escape
    if esc not in value:
        return value
    out: list[str] = []
    pos = 0
    while True:
        start = value.find(esc, pos)
        if start < 0:
            out.append(value[pos:])
            break
        stop = value.find(esc, start + 1)
        if stop < 0:
            out.append(value[pos:])
            break
        out.append(value[pos:start])
        out.append(_escape_meaning(value[start + 1 : stop], seps, raw=value[start : stop + 1]))
        pos = stop + 1
    return "".join(out)


def _escape_meaning(code: str, seps: Separators, *, raw: str) -> str:
    simple = {
        "F": seps.field,
        "S": seps.component,
        "T": seps.subcomponent,
        "R": seps.repetition,
        "E": seps.escape,
        ".br": "\n",
    }
    if code in simple:
        return simple[code]
    if code.startswith("X") and len(code) > 1 and len(code) % 2 == 1:
        try:
            return bytes.fromhex(code[1:]).decode("latin-1")
        except ValueError:
            return raw
    # Formatting commands (\H\, \N\, \.sp\ ...) carry no text; unknown ones are kept verbatim.
    return "" if code in {"H", "N"} or code.startswith((".sp", ".in", ".ti", ".ce")) else raw


def escape(value: str, seps: Separators = DEFAULT_SEPARATORS) -> str:
    """Encode text for a field: separators escaped, line breaks as \\.br\\, never a raw CR."""
    esc = seps.escape
    table = {
        esc: f"{esc}E{esc}",
        seps.field: f"{esc}F{esc}",
        seps.component: f"{esc}S{esc}",
        seps.subcomponent: f"{esc}T{esc}",
        seps.repetition: f"{esc}R{esc}",
    }
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    out = "".join(table.get(ch, ch) for ch in text)
    return out.replace("\n", f"{esc}.br{esc}")


# --- Messages -----------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Segment:
    name: str
    fields: list[str]  # fields[n] is field n (for MSH, fields[1] is the field separator)
    seps: Separators

    def raw(self, number: int) -> str:
        return self.fields[number] if number < len(self.fields) else ""

    def repetitions(self, number: int) -> list[str]:
        value = self.raw(number)
        return value.split(self.seps.repetition) if value else []

    def component(self, number: int, component: int = 1, *, repetition: int = 0) -> str:
        """One component (1-based) of one repetition of a field, unescaped."""
        reps = self.repetitions(number)
        if repetition >= len(reps):
            return ""
        parts = reps[repetition].split(self.seps.component)
        if component > len(parts):
            return ""
        return unescape(parts[component - 1].split(self.seps.subcomponent)[0], self.seps)

    def text(self, number: int) -> str:
        """The whole field as text (first component), unescaped."""
        return self.component(number, 1)

    def components(self, repetition_value: str) -> list[str]:
        return [
            unescape(p.split(self.seps.subcomponent)[0], self.seps)
            for p in repetition_value.split(self.seps.component)
        ]


@dataclasses.dataclass(slots=True)
class Message:
    segments: list[Segment]
    seps: Separators
    charset: str  # MSH-18 as sent ("" when the site default was used)
    encoding: str  # the Python codec used

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def first(self, name: str) -> Segment | None:
        for segment in self.segments:
            if segment.name == name:
                return segment
        return None

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    @property
    def control_id(self) -> str:
        return self.msh.text(10)

    @property
    def message_code(self) -> str:
        return self.msh.component(9, 1)

    @property
    def trigger_event(self) -> str:
        return self.msh.component(9, 2)

    @property
    def version(self) -> str:
        return self.msh.component(12, 1)


@dataclasses.dataclass(frozen=True, slots=True)
class Header:
    """What the listener needs before it parses the body: who sent what, and how to answer."""

    seps: Separators
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    control_id: str
    message_type: str  # e.g. "ORM^O01"
    trigger_event: str
    processing_id: str
    version: str
    charset: str


def _split_segments(text: str) -> Iterator[str]:
    # The standard separates segments with CR; LF and CRLF are tolerated because file-based
    # senders and some interface engines use them.
    for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        if line.strip():
            yield line


def read_separators(raw: bytes) -> Separators:
    if not raw.startswith(b"MSH"):
        start = raw[:20].decode("latin-1")
        raise Hl7Error(
            "the message does not start with an MSH segment",
            value=start,
            ack_code="AR",
            error_code="100",
        )
    if len(raw) < 8:
        raise Hl7Error("MSH is too short to hold its separators", segment="MSH", ack_code="AR")
    field = chr(raw[3])
    encoding = raw[4:8].decode("latin-1")
    chars = [field, *encoding]
    if (
        len(set(chars)) != 5
        # Printable ASCII only: the ACK repeats them, and in any other byte they would not
        # survive the ACK's encoding.
        or any(c.isalnum() or not "!" <= c <= "~" for c in chars)
        or (len(raw) > 8 and chr(raw[8]) != field)
    ):
        raise Hl7Error(
            "MSH-1 and MSH-2 must be a field separator and four distinct encoding characters "
            "(component, repetition, escape, subcomponent), e.g. |^~\\&",
            segment="MSH",
            field=2,
            value=raw[3:9].decode("latin-1"),
            ack_code="AR",
            error_code="102",
        )
    return Separators(field, encoding[0], encoding[1], encoding[2], encoding[3])


def _msh_fields(raw: bytes, seps: Separators) -> list[str]:
    end = len(raw)
    for stop in (raw.find(b"\r"), raw.find(b"\n")):
        if stop >= 0:
            end = min(end, stop)
    text = raw[:end].decode("latin-1")  # MSH header fields are ASCII in every supported charset
    parts = text.split(seps.field)
    return ["MSH", seps.field, *parts[1:]]


def read_header(raw: bytes) -> Header:
    """Read MSH without decoding the body: enough to find the sender and answer it."""
    seps = read_separators(raw)
    segment = Segment("MSH", _msh_fields(raw, seps), seps)
    return Header(
        seps=seps,
        sending_application=segment.component(3),
        sending_facility=segment.component(4),
        receiving_application=segment.component(5),
        receiving_facility=segment.component(6),
        control_id=segment.text(10),
        message_type="^".join(p for p in (segment.component(9, 1), segment.component(9, 2)) if p),
        trigger_event=segment.component(9, 2),
        processing_id=segment.component(11),
        version=segment.component(12),
        charset=segment.component(18).strip(),
    )


def codec_for(charset: str, *, default: str) -> str:
    name = charset or default
    try:
        return CHARSETS[name]
    except KeyError:
        raise Hl7Error(
            f"character set not supported (use one of {', '.join(CHARSETS)})",
            segment="MSH",
            field=18,
            value=name,
            ack_code="AR",
            error_code="103",
        ) from None


def parse(
    raw: bytes, *, default_charset: str = "UNICODE UTF-8", header: Header | None = None
) -> Message:
    """Decode and split a whole message. The charset is MSH-18, or ``default_charset``.
    ``header``: ``read_header(raw)``, when the caller has read it already."""
    if header is None:
        header = read_header(raw)
    encoding = codec_for(header.charset, default=default_charset)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        segment_number = raw[: exc.start].count(b"\r") + 1
        declared = header.charset or f"{default_charset} (the site's default)"
        raise Hl7Error(
            f"the message is declared {declared} but byte 0x{raw[exc.start]:02X} at offset "
            f"{exc.start} (segment {segment_number}) is not valid {encoding}; set MSH-18 to the "
            "character set the bytes are in",
            segment="MSH",
            field=18,
            value=header.charset,
            error_code="102",
        ) from None
    if "\x00" in text:
        offset = text.index("\x00")
        at_line = text[:offset].replace("\r\n", "\r").replace("\n", "\r").count("\r") + 1
        raise Hl7Error(
            f"the message holds a NUL character (0x00) at character {offset} (line {at_line}); "
            "HL7 v2 text may not contain it",
            error_code="102",
        )
    seps = header.seps
    segments = []
    for line in _split_segments(text):
        if line.startswith("MSH"):
            fields = ["MSH", seps.field, *line.split(seps.field)[1:]]
            segments.append(Segment("MSH", fields, seps))
            continue
        fields = line.split(seps.field)
        name = fields[0]
        if not re.fullmatch(r"[A-Z][A-Z0-9]{2}", name):
            raise Hl7Error(
                "not a segment name", segment=name[:3], value=line[:20], error_code="100"
            )
        segments.append(Segment(name, fields, seps))
    return Message(segments=segments, seps=seps, charset=header.charset, encoding=encoding)
