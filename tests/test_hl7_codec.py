"""The HL7 codec and MLLP framing, without a database or a socket."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import hl7
import pytest

from demo_ris.orders import OrderSpec, orm_o01
from hl7_interface.client import parse_ack
from hl7_interface.codec import Hl7Error, escape, parse, read_header, unescape
from hl7_interface.datetimes import parse_datetime
from hl7_interface.mllp import Frame, FrameDecoder, OversizeFrame, frame
from hl7_interface.writer import Identity, build_ack

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
MESSAGE = orm_o01(OrderSpec(accession="A1", fnr="17857012345"), facility="ALFA")


def test_frames_split_over_many_reads_are_joined():
    decoder = FrameDecoder(1 << 20)
    data = frame(MESSAGE)
    out = []
    for i in range(0, len(data), 7):
        out += decoder.feed(data[i : i + 7])
    assert out == [Frame(MESSAGE)]
    assert decoder.pending == 0


def test_frames_packed_in_one_read_are_separated():
    decoder = FrameDecoder(1 << 20)
    assert decoder.feed(frame(b"MSH|1") + b"\n" + frame(b"MSH|2") + frame(b"MSH|3")[:4]) == [
        Frame(b"MSH|1"),
        Frame(b"MSH|2"),
    ]
    assert decoder.feed(frame(b"MSH|3")[4:]) == [Frame(b"MSH|3")]


def test_a_frame_over_the_limit_is_reported_with_its_head_and_the_next_frame_still_read():
    decoder = FrameDecoder(100)
    big = b"MSH|" + b"x" * 500
    out = decoder.feed(frame(big)[:50]) + decoder.feed(frame(big)[50:] + frame(b"MSH|ok"))
    assert out == [OversizeFrame(head=big[:100], size=len(big)), Frame(b"MSH|ok")]


def test_escapes_decode_every_separator_and_line_breaks():
    assert unescape(r"a\F\b\S\c\T\d\R\e\E\f\.br\g") == "a|b^c&d~e\\f\ng"


def test_escape_round_trips_text_with_separators_and_never_leaks_a_carriage_return():
    text = "Funn: a|b^c&d~e\\f\r\nNy linje æøå ÆØÅ"
    encoded = escape(text)
    assert not {"|", "\r", "^", "&", "~"} & set(encoded)
    assert unescape(encoded) == text.replace("\r\n", "\n")


def test_header_reads_sender_type_and_charset_without_decoding_the_body():
    header = read_header(orm_o01(OrderSpec("A1", "17857012345"), facility="ALFA", charset="8859/1"))
    assert header.sending_facility == "ALFA"
    assert header.message_type == "ORM^O01"
    assert header.charset == "8859/1"
    assert header.version == "2.3"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"PID|1||123", "does not start with an MSH segment"),
        (b"MSH|^^\\&|RIS|ALFA", "four distinct encoding characters"),
        (b"MSH|^~\\&#|RIS|ALFA", "MSH-1 and MSH-2"),
        (b"MSHA^~\\&A", "MSH-1 and MSH-2"),
    ],
)
def test_an_unreadable_envelope_is_rejected_with_a_reason(raw, text):
    with pytest.raises(Hl7Error) as caught:
        read_header(raw)
    assert caught.value.ack_code == "AR"
    assert text in caught.value.describe()


def test_latin1_bytes_declared_utf8_name_the_byte_and_offset():
    raw = orm_o01(OrderSpec("A1", "17857012345"), facility="ALFA", charset="8859/1")
    raw = raw.replace(b"8859/1", b"UNICODE UTF-8")
    with pytest.raises(Hl7Error) as caught:
        parse(raw)
    assert caught.value.location == "MSH-18"
    assert "byte 0xD8" in caught.value.text


def test_the_site_default_charset_applies_when_msh18_is_empty():
    raw = orm_o01(OrderSpec("A1", "17857012345"), facility="ALFA", charset="8859/1")
    raw = raw.replace(b"|8859/1", b"")
    message = parse(raw, default_charset="8859/1")
    assert message.first("PID").component(5, 1) == "Ødegård"


def test_dates_without_offset_are_the_sites_local_time_across_dst():
    winter = parse_datetime("202601151030", zone=OSLO, segment="OBR", field=7)
    summer = parse_datetime("20260715103000", zone=OSLO, segment="OBR", field=7)
    assert winter.utcoffset() == dt.timedelta(hours=1)
    assert summer.utcoffset() == dt.timedelta(hours=2)
    explicit = parse_datetime("20260715103000+0000", zone=OSLO, segment="OBR", field=7)
    assert explicit == dt.datetime(2026, 7, 15, 10, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["2026-01-01", "20261301", "20260230", "yesterday"])
def test_a_bad_date_names_segment_field_and_value(value):
    with pytest.raises(Hl7Error) as caught:
        parse_datetime(value, zone=OSLO, segment="ORC", field=9)
    assert caught.value.location == "ORC-9"
    assert caught.value.value == value


def test_our_ack_is_read_by_python_hl7_with_the_error_location():
    header = read_header(MESSAGE)
    error = Hl7Error("accession number missing", segment="OBR", field=18, error_code="101")
    ack = build_ack(header=header, code="AE", identity=Identity("TELERAD", "TELERAD"), error=error)
    parsed = hl7.parse(ack.decode())
    assert str(parsed.segment("MSA")[1]) == "AE"
    assert str(parsed.segment("MSA")[2]) == header.control_id
    err = parsed.segment("ERR")
    assert str(err[2]) == "OBR^1^18^1"
    assert str(err[3][0][0]) == "101"
    assert "OBR-18" in str(err[8])


@pytest.mark.parametrize("control_id", ["\\SEED", "A|B", "A^B~C&D", "\\E\\"])
def test_an_ack_reads_back_the_message_id_it_answers_whatever_it_holds(control_id):
    """The ACK escapes MSA-2 (the message id may hold a separator or the escape character);
    reading the ACK undoes that: the sender matches its answer to the message it sent."""
    sent = read_header(MESSAGE)
    header = dataclasses.replace(sent, control_id=control_id)

    ack = parse_ack(build_ack(header=header, code="AA", identity=Identity("TELERAD", "TELERAD")))

    assert ack.control_id == control_id


def test_a_nul_character_is_refused_naming_where_it_is():
    raw = MESSAGE.replace(b"PID|", b"PID|\x00", 1)

    with pytest.raises(Hl7Error, match=r"NUL character \(0x00\) at character \d+ \(line 2\)"):
        parse(raw)


def test_python_hl7_and_our_parser_agree_on_an_order():
    ours = parse(MESSAGE)
    theirs = hl7.parse(MESSAGE.decode())
    assert ours.first("OBR").text(18) == str(theirs.segment("OBR")[18])
    assert ours.first("PID").component(5, 1) == str(theirs.segment("PID")[5][0][0])
