"""The test RIS's sending side: realistic synthetic orders (ORM^O01, OMI^O23) and patient updates
(ADT^A08, ADT^A40) as a site's RIS writes them. For demos, tests and benchmarks; every patient is
synthetic (national numbers in the test range)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import zoneinfo
from collections.abc import Sequence

from hl7_interface.writer import components, escape, new_control_id, segment
from worklists import nin

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")

# (code, text, modality) in the Norwegian classification of radiological procedures (NCRP).
PROCEDURES = [
    ("SA0AA", "CT caput uten kontrast", "CT"),
    ("MA0AA", "MR caput", "MR"),
    ("SB0AA", "CT thorax med kontrast", "CT"),
    ("NA0AA", "Rtg thorax", "DX"),
    ("MN0BA", "MR kne", "MR"),
    ("UH0AA", "UL abdomen", "US"),
]
FAMILY_NAMES = ["Ødegård", "Bjørnstad", "Åsheim", "Nordmann", "Hæhre", "Løvås", "Strøm"]
GIVEN_NAMES = ["Åse", "Kåre", "Bjørg", "Ærlend", "Øystein", "Kari", "Ola"]


@dataclasses.dataclass(frozen=True, slots=True)
class OrderSpec:
    """One order as a site's RIS would send it."""

    accession: str
    fnr: str
    family: str = "Ødegård"
    given: str = "Åse"
    birth_date: dt.date = dt.date(1970, 5, 17)
    sex: str = "F"
    procedure: tuple[str, str, str] = PROCEDURES[0]
    priority: str = "R"
    control: str = "NW"
    order_status: str = ""
    question: str = "Hodepine, spørsmål om blødning"
    referrer: tuple[str, str, str] = ("1234567", "Lege", "Lars")
    placer: str = ""
    filler: str = ""
    study_uid: str = ""
    ordered_at: dt.datetime | None = None
    local_id: str = ""
    cancel_reason: tuple[str, str] = ("", "")


def msh(
    *,
    facility: str,
    message_type: str,
    version: str,
    control_id: str | None = None,
    charset: str = "UNICODE UTF-8",
    application: str = "RIS",
    at: dt.datetime | None = None,
) -> str:
    moment = (at or dt.datetime.now(dt.UTC)).astimezone(OSLO)
    return "|".join(
        [
            "MSH",
            "^~\\&",
            application,
            escape(facility),
            "TELERAD",
            "TELERAD",
            moment.strftime("%Y%m%d%H%M%S"),
            "",
            message_type,
            control_id or new_control_id("M"),
            "P",
            version,
            "",
            "",
            "",
            "",
            "",
            charset,
        ]
    ).rstrip("|")


def pid(spec: OrderSpec, *, site_authority: str = "") -> str:
    ids = [f"{spec.fnr}^^^NO-FREG&2.16.578.1.12.4.1.4.1&ISO^NNNOR"]
    if spec.local_id:
        ids.append(f"{escape(spec.local_id)}^^^{escape(site_authority)}^MR")
    return segment(
        "PID",
        "1",
        "",
        "~".join(ids),
        "",
        components(spec.family, spec.given),
        "",
        spec.birth_date.strftime("%Y%m%d"),
        spec.sex,
    )


def _order_segments(spec: OrderSpec, *, omi: bool) -> list[str]:
    moment = (spec.ordered_at or dt.datetime.now(dt.UTC)).astimezone(OSLO)
    when = moment.strftime("%Y%m%d%H%M%S")
    placer = spec.placer or f"P{spec.accession}"
    orc = [""] * 16
    orc[0] = spec.control
    orc[1] = escape(placer)
    orc[2] = escape(spec.filler)
    orc[4] = spec.order_status
    if not omi and spec.priority:
        orc[6] = f"^^^^^{spec.priority}"
    orc[8] = when
    orc[11] = components(*spec.referrer)
    orc[15] = components(*spec.cancel_reason)
    code, text, modality = spec.procedure
    obr = [""] * 24
    obr[0] = "1"
    obr[1] = escape(placer)
    obr[2] = escape(spec.filler)
    obr[3] = components(code, text, "NCRP")
    obr[5] = when
    obr[12] = escape(spec.question)
    obr[15] = components(*spec.referrer)
    if not omi:
        obr[17] = escape(spec.accession)
        obr[23] = modality
    lines = [segment("ORC", *orc)]
    if omi:
        lines.append(segment("TQ1", "1", "", "", "", "", "", "", "", spec.priority))
    lines.append(segment("OBR", *obr))
    if omi:
        lines.append(
            segment("IPC", escape(spec.accession), "", escape(spec.study_uid), "", modality)
        )
    elif spec.study_uid:
        lines.append(segment("ZDS", components(spec.study_uid, "RIS", "Application", "DICOM")))
    return lines


def orm_o01(
    spec: OrderSpec,
    *,
    facility: str,
    version: str = "2.3",
    charset: str = "UNICODE UTF-8",
    control_id: str | None = None,
    more: Sequence[OrderSpec] = (),
) -> bytes:
    """An ORM^O01 with ``spec``'s patient and order, and the orders in ``more`` after it (one
    message may carry several orders of one patient)."""
    lines = [
        msh(
            facility=facility,
            message_type="ORM^O01",
            version=version,
            control_id=control_id,
            charset=charset,
        ),
        pid(spec, site_authority=facility),
        segment("PV1", "1", "O"),
        *_order_segments(spec, omi=False),
        *(line for other in more for line in _order_segments(other, omi=False)),
    ]
    return encode_text(lines, charset)


def omi_o23(
    spec: OrderSpec,
    *,
    facility: str,
    charset: str = "UNICODE UTF-8",
    control_id: str | None = None,
) -> bytes:
    lines = [
        msh(
            facility=facility,
            message_type="OMI^O23^OMI_O23",
            version="2.5.1",
            control_id=control_id,
            charset=charset,
        ),
        pid(spec, site_authority=facility),
        segment("PV1", "1", "O"),
        *_order_segments(spec, omi=True),
    ]
    return encode_text(lines, charset)


def adt_a08(
    spec: OrderSpec, *, facility: str, version: str = "2.5", control_id: str | None = None
) -> bytes:
    lines = [
        msh(facility=facility, message_type="ADT^A08", version=version, control_id=control_id),
        segment("EVN", "A08"),
        pid(spec, site_authority=facility),
        segment("PV1", "1", "O"),
    ]
    return encode_text(lines, "UNICODE UTF-8")


def adt_a40(
    surviving: OrderSpec,
    *,
    prior_fnr: str = "",
    prior_local_id: str = "",
    facility: str,
    control_id: str | None = None,
) -> bytes:
    prior = []
    if prior_fnr:
        prior.append(f"{prior_fnr}^^^NO-FREG^NNNOR")
    if prior_local_id:
        prior.append(f"{escape(prior_local_id)}^^^{escape(facility)}^MR")
    lines = [
        msh(facility=facility, message_type="ADT^A40", version="2.5", control_id=control_id),
        segment("EVN", "A40"),
        pid(surviving, site_authority=facility),
        segment("MRG", "~".join(prior)),
    ]
    return encode_text(lines, "UNICODE UTF-8")


def encode_text(lines: list[str], charset: str) -> bytes:
    codec = {"8859/1": "latin-1", "UNICODE UTF-8": "utf-8", "": "utf-8"}.get(charset, "utf-8")
    return ("\r".join(lines) + "\r").encode(codec)


def random_order(rng: random.Random, *, accession: str, control: str = "NW") -> OrderSpec:
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 90))
    sex = rng.choice("FM")
    return OrderSpec(
        accession=accession,
        fnr=nin.synthetic_number(birth, rng=rng, sex=sex),
        family=rng.choice(FAMILY_NAMES),
        given=rng.choice(GIVEN_NAMES),
        birth_date=birth,
        sex=sex,
        procedure=rng.choice(PROCEDURES),
        priority=rng.choice("RRRRAS"),
        control=control,
    )
