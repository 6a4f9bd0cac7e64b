"""Our HL7 codec against python-hl7, a parser we did not write, on a corpus of messages.

python-hl7 is the oracle here, not production's parser: at the listener's work per message it
measured 5 to 17 times slower (benchmarks/bench_hl7.py, figures in hl7_interface/codec.py).
Where the two readings of the standard differ on purpose, the oracle is told ours
(``THEIR_ESCAPES``): a line break \\.br\\ is "\\n" here ("\\r" there, which our text fields
never hold) and highlighting \\H\\ \\N\\ carries no text ("_" there). A locally defined
or unterminated escape we keep as sent, where python-hl7 drops it: see the last test.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from demo_ris.orders import OrderSpec, adt_a08, adt_a40, omi_o23, orm_o01
from hl7_interface.codec import Message, Separators, escape, parse
from hl7_interface.ris_messages import Destination, OrderData, PatientData, oru_r01
from hl7_interface.writer import Identity, segment

THEIR_ESCAPES = {".br": "\n", "H": "", "N": ""}
OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
SIGNED = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)


def _result(sections: list[dict[str, str]]) -> bytes:
    return oru_r01(
        identity=Identity("TELERAD", "TELERAD"),
        destination=Destination("RIS", "ALFA", "UNICODE UTF-8", OSLO, "ALFA"),
        patient=PatientData(
            identifiers=(("FNR", "17857012345"), ("MR", "L|1^2&3~4\\5")),
            family_name="Ødegård^Bjørnstad",
            given_name="Åse & Kåre",
            birth_date=dt.date(1970, 5, 17),
            sex="F",
        ),
        order=OrderData(
            placer_order_number="PL~1",
            filler_order_number="FI|2",
            accession_number="ACC^3",
            procedure_code="SA0AA",
            procedure_text="CT caput & hals",
            procedure_coding_system="NCRP",
            modality="CT",
            observed_at=SIGNED - dt.timedelta(hours=1),
            study_instance_uid="1.2.3",
        ),
        report={
            "result_status": "F",
            "signed_at": SIGNED.isoformat(),
            "signed_by_name": "Kari Nordmann",
            "signed_by_hpr": "9123456",
            "sections": sections,
        },
        control_id="R1",
        at=SIGNED,
    )


HANDWRITTEN = [
    # Repetitions of CX with subcomponents (HD), empty fields and components, a trailing field
    # separator, every separator escaped, hex and formatting escapes.
    "MSH|^~\\&|RIS|ALFA|TELERAD|TELERAD|20260715103000||ORM^O01|M1|P|2.3\r"
    "PID|1||17857012345^^^NO-FREG&2.16.578.1.12.4.1.4.1&ISO^NNNOR~L1^^^ALFA^MR~^^^X||"
    "Ødegård^Åse^^^Dr~Alias^Ole||19700517|F|\r"
    "ORC|NW|PL\\F\\1|FI\\S\\2||||^^^^^S||20260715103000|||1234567^Lege^Lars\r"
    "OBR|1|a\\T\\b|c\\R\\d|SA0AA^CT caput^NCRP|||||||||Tekst \\E\\ med \\X41\\\\H\\fet\\N\\ "
    "og\\.br\\ny linje\r",
    # Other separators than the usual (MSH-1 and MSH-2 are the message's to choose).
    "MSH#$*@%#RIS#ALFA#TELERAD#TELERAD#20260715103000##ADT$A08#M2#P#2.5\r"
    "PID#1##1$$$X%Z*2$$$Y##Navn$Fornavn%mellom$Gitt#@F@x@S@y\r",
    # Segments the interface ignores, a Z-segment, several of one kind.
    "MSH|^~\\&|RIS|ALFA|TELERAD|TELERAD|20260715103000||ORM^O01|M3|P|2.5|||||NO|UNICODE UTF-8\r"
    "PID|1||1^^^A\rNTE|1|L|første~andre\rNTE|2|L|tredje\rZDS|1.2.3^RIS^Application^DICOM\r",
]


def corpus() -> list[tuple[str, bytes]]:
    spec = OrderSpec(
        accession="ACC|1",
        fnr="17857012345",
        family="Ødegård",
        given="Åse",
        question="Hodepine ^ kvalme & oppkast ~ svimmel \\ ?",
        local_id="L^7",
        study_uid="1.2.826.0.1.3680043.1",
    )
    return [
        ("orm 2.3", orm_o01(spec, facility="ALFA")),
        ("orm 2.5, two orders", orm_o01(spec, facility="ALFA", version="2.5", more=[spec])),
        ("omi", omi_o23(spec, facility="ALFA")),
        ("adt a08", adt_a08(spec, facility="ALFA")),
        ("adt a40", adt_a40(spec, prior_fnr="01017012345", prior_local_id="L9", facility="ALFA")),
        (
            "oru",
            _result(
                [
                    {"title": "Funn", "text": "Ingen blødning.\nVentrikler | normale ^ & ~ \\."},
                    {"title": "Konklusjon", "text": "Normal CT caput. ÆØÅ æøå."},
                ]
            ),
        ),
        *((f"handwritten {i}", text.encode()) for i, text in enumerate(HANDWRITTEN, start=1)),
    ]


def _theirs(message: hl7.Message, segment: hl7.Segment, field: int, rep: int, comp: int) -> str:
    """python-hl7's reading of one component's first subcomponent ("" where there is none):
    found by its own accessor, unescaped by its own unescape told our readings (extract_field
    would unescape with its defaults)."""
    try:
        segment.extract_field(1, field, rep, comp, 1)
    except IndexError:
        return ""
    return message.unescape(_their_raw(segment, field, rep, comp), app_map=THEIR_ESCAPES)


def _their_raw(segment: hl7.Segment, field: int, rep: int, comp: int) -> str:
    """The still escaped text at that place of python-hl7's parse tree."""
    node: object = segment(field)
    for index in (rep, comp, 1):
        if isinstance(node, str):
            return node if index == 1 else ""
        assert isinstance(node, list)
        if index > len(node):
            return ""
        node = node[index - 1]
    return str(node)


def _shape(ours: Message, segment_index: int, field: int) -> tuple[int, int]:
    """How many repetitions and components (at most) a field has, plus one past the end."""
    seg = ours.segments[segment_index]
    reps = seg.repetitions(field) or [""]
    return len(reps) + 1, max(len(r.split(seg.seps.component)) for r in reps) + 1


@pytest.mark.parametrize(("name", "raw"), corpus(), ids=[name for name, _raw in corpus()])
def test_every_component_of_every_field_reads_the_same_as_python_hl7(name, raw):
    ours = parse(raw)
    theirs = hl7.parse(raw.decode("utf-8"))

    assert [s.name for s in ours.segments] == [str(s[0]) for s in theirs]
    compared = 0
    for index, (seg, their_seg) in enumerate(zip(ours.segments, theirs, strict=True)):
        assert len(seg.fields) == len(their_seg), seg.name
        for field in range(1, len(seg.fields)):
            assert seg.raw(field) == str(their_seg[field]), f"{seg.name}-{field}"
            if seg.name == "MSH" and field in (1, 2):
                continue
            reps, comps = _shape(ours, index, field)
            for rep in range(reps):
                for comp in range(1, comps + 1):
                    where = f"{seg.name}-{field}[{rep}].{comp}"
                    expected = _theirs(theirs, their_seg, field, rep + 1, comp)
                    assert seg.component(field, comp, repetition=rep) == expected, where
                    compared += 1
    assert compared > 20


def test_the_corpus_holds_what_the_comparison_is_about():
    """Escapes of every kind, repetitions, components and subcomponents: a corpus without them
    would let the test above pass whatever the codec did with them."""
    text = b"".join(raw for _name, raw in corpus()).decode()
    for needle in ("\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\X41\\", "\\.br\\", "\\H\\"):
        assert needle in text
    assert "~" in text.replace("^~\\&", "")
    assert "&2.16.578" in text
    assert "$*@%" in text
    assert "@F@" in text


def test_the_oracle_disagrees_with_a_wrong_reading():
    """The comparison can fail: python-hl7 reads the second repetition, not the first."""
    raw = HANDWRITTEN[0].encode()
    ours = parse(raw).first("PID")
    theirs = hl7.parse(raw.decode()).segment("PID")
    assert ours is not None
    assert ours.component(3, 1, repetition=1) == _theirs(hl7.parse(raw.decode()), theirs, 3, 2, 1)
    assert ours.component(3, 1, repetition=0) != _theirs(hl7.parse(raw.decode()), theirs, 3, 2, 1)


@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])
        | st.sampled_from(list("|^~\\&\n\r")),
        max_size=60,
    )
)
def test_what_we_escape_python_hl7_reads_back_as_the_same_text(text):
    raw = "\r".join(
        [
            "MSH|^~\\&|TELERAD|TELERAD|RIS|ALFA|20260715103000||ORU^R01|R1|P|2.5",
            segment("OBX", "1", "TX", "", "1", escape(text), "", "", "", "", "", "F"),
            "",
        ]
    )
    theirs = hl7.parse(raw)
    value = str(theirs.segment("OBX")[5])
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert theirs.unescape(value, app_map=THEIR_ESCAPES) == expected
    assert parse(raw.encode()).first("OBX").text(5) == expected


def test_custom_separators_are_read_from_msh_by_both():
    raw = HANDWRITTEN[1].encode()
    assert parse(raw).seps == Separators("#", "$", "*", "@", "%")
    pid = parse(raw).first("PID")
    assert pid is not None
    theirs = hl7.parse(raw.decode()).segment("PID")
    assert (pid.component(5, 2), pid.component(3, 1, repetition=1), pid.text(6)) == (
        "Fornavn",
        "2",
        "#x$y",
    )
    assert theirs.extract_field(1, 5, 1, 2, 1) == "Fornavn"
    assert theirs.extract_field(1, 3, 2, 1, 1) == "2"
    assert theirs.extract_field(1, 6, 1, 1, 1) == "#x$y"


@pytest.mark.parametrize(
    ("text", "python_hl7_reads"),
    [("a \\Zx1\\ b", "a  b"), ("a \\ b", "a ")],
    ids=["locally defined escape", "unterminated escape"],
)
def test_an_escape_we_cannot_interpret_is_kept_as_sent_where_python_hl7_drops_it(
    text, python_hl7_reads
):
    """Where we part from python-hl7 without telling it ours: text we cannot interpret is
    kept, not lost (the report or name stays as the sender wrote it)."""
    raw = f"MSH|^~\\&|RIS|ALFA|TELERAD|TELERAD|20260715103000||ORM^O01|M1|P|2.3\rNTE|1|L|{text}\r"
    assert parse(raw.encode()).first("NTE").text(3) == text
    theirs = hl7.parse(raw)
    assert theirs.unescape(str(theirs.segment("NTE")[3]), app_map=THEIR_ESCAPES) == python_hl7_reads
