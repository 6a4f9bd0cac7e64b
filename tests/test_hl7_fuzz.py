"""Property-based fuzzing (hypothesis) of the HL7 codec and of the MLLP listener over a real
socket: no input crashes them, every frame is answered, and a refused message changes nothing."""

from __future__ import annotations

import socket
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo_ris.orders import orm_o01
from hl7_interface import mapping
from hl7_interface.client import parse_ack
from hl7_interface.codec import Hl7Error, escape, parse, read_header, unescape
from hl7_interface.mllp import CR, EB, SB, FrameDecoder, OversizeFrame, frame
from tests.hl7_support import hl7_site, listener, spec
from worklists.models import InboundMessage, Study, StudyEvent

FIXTURES = (hl7_site, listener)
OSLO = zoneinfo.ZoneInfo("Europe/Oslo")

SEED_MESSAGE = orm_o01(
    spec("ACC-SEED", study_uid="1.2.826.0.1.3680043.8.498.5"),
    facility="ALFA",
    control_id="SEED",
)
# Bytes a mutation may insert: anything but the end-of-frame byte (which would split the frame
# into two, each still answered; the stream property below covers framing).
insertable = st.binary(max_size=40).map(lambda b: b.replace(EB, b""))


@st.composite
def mutated(draw: st.DrawFn, base: bytes = SEED_MESSAGE) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "separator", "truncate"]))
        at = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != EB[0]))
        elif kind == "cut":
            del data[at : at + draw(st.integers(min_value=1, max_value=30))]
        elif kind == "insert":
            data[at:at] = draw(insertable)
        elif kind == "separator":
            data[at:at] = draw(st.sampled_from([b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n"]))
        else:
            del data[at:]
    return bytes(data)


# --- The codec ----------------------------------------------------------------------------------


@given(st.one_of(mutated(), st.binary(max_size=400)))
@settings(max_examples=200, deadline=None)
def test_reading_any_bytes_raises_nothing_but_hl7_error(raw):
    try:
        header = read_header(raw)
        message = parse(raw, header=header)
    except Hl7Error:
        return
    site = mapping.SiteContext(code="A", sending_facility="ALFA", zone=OSLO)
    try:
        mapping.check_type(header.message_type, header.version)
        mapping.to_command(message, site)
    except Hl7Error:
        pass


@given(
    payloads=st.lists(
        st.binary(min_size=0, max_size=300).map(lambda b: b.replace(SB, b"").replace(EB, b"")),
        max_size=8,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=20),
    max_size=st.integers(min_value=1, max_value=400),
)
@settings(max_examples=200, deadline=None)
def test_frames_come_out_whole_and_in_order_however_the_stream_is_cut(payloads, cuts, max_size):
    stream = b"".join(frame(p) for p in payloads)
    decoder = FrameDecoder(max_size)
    out = []
    start = 0
    for cut in [*sorted({c % (len(stream) + 1) for c in cuts}), len(stream)]:
        out.extend(decoder.feed(stream[start:cut]))
        start = cut
        assert decoder.buffered <= max_size

    assert len(out) == len(payloads)
    for item, payload in zip(out, payloads, strict=True):
        if len(payload) > max_size:
            assert item == OversizeFrame(head=payload[:max_size], size=len(payload))
        else:
            assert item.payload == payload
    assert decoder.pending == 0


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_escaped_text_reads_back_the_same_without_a_raw_separator(text):
    escaped = escape(text)

    assert not {"|", "^", "~", "&", "\r"} & set(escaped.replace("\\", ""))
    assert unescape(escaped) == text.replace("\r\n", "\n").replace("\r", "\n")


# --- The listener -------------------------------------------------------------------------------


def _ack(sock: socket.socket, buffer: bytearray) -> bytes:
    while EB not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the listener closed the connection without answering"
        buffer += chunk
    end = buffer.index(EB)
    payload = bytes(buffer[buffer.index(SB) + 1 : end])
    del buffer[: end + 1]
    if buffer[:1] == CR:
        del buffer[:1]
    return payload


@pytest.mark.django_db(transaction=True)
@given(raw=mutated())
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_mutated_frame_is_answered_and_a_refused_one_changes_nothing(listener, raw):
    studies, events = Study.objects.count(), StudyEvent.objects.count()
    stored = InboundMessage.objects.count()

    with socket.create_connection(("127.0.0.1", listener.port), timeout=20) as sock:
        sock.sendall(frame(raw))
        ack = parse_ack(_ack(sock, bytearray()))

    assert ack.code in {"AA", "AE", "AR"}
    assert InboundMessage.objects.count() == stored + 1
    inbound = InboundMessage.objects.latest("id")
    if ack.code == "AA":
        assert inbound.status in {"APPLIED", "DUPLICATE"}
    else:
        assert inbound.status == "FAILED"
        assert inbound.error
        assert (Study.objects.count(), StudyEvent.objects.count()) == (studies, events)


@pytest.mark.django_db(transaction=True)
@given(
    frames=st.lists(st.one_of(mutated(), st.binary(max_size=200)), min_size=1, max_size=6),
    chunk=st.integers(min_value=1, max_value=500).map(lambda n: n if n > 20 else n * 7),
)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_a_stream_of_frames_cut_anywhere_gets_one_answer_per_frame(listener, frames, chunk):
    frames = [f.replace(SB, b"").replace(EB, b"") for f in frames]
    stream = b"".join(frame(f) for f in frames)
    stored = InboundMessage.objects.count()

    with socket.create_connection(("127.0.0.1", listener.port), timeout=20) as sock:
        for start in range(0, len(stream), chunk):
            sock.sendall(stream[start : start + chunk])
        buffer = bytearray()
        answers = [_ack(sock, buffer) for _ in frames]

    assert len(answers) == len(frames)
    for answer, sent in zip(answers, frames, strict=True):
        ack = parse_ack(answer)
        assert ack.code in {"AA", "AE", "AR"}
        try:
            control_id = read_header(sent).control_id
        except Hl7Error:
            continue
        assert ack.control_id == control_id
    assert InboundMessage.objects.count() == stored + len(frames)
