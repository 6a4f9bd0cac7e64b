"""The messages a site's RIS gets from us: ORU^R01 results and ORM^O01 ORC-1 OC returns.

Pure functions over plain data; every text value goes through ``escape``, so a separator in a
report or a name can never leak into the message structure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from hl7_interface.codec import DEFAULT_SEPARATORS, Separators, escape
from hl7_interface.datetimes import format_datetime
from hl7_interface.writer import Identity, components, encode, msh, segment

NATIONAL_OIDS = {"FNR": "2.16.578.1.12.4.1.4.1", "DNR": "2.16.578.1.12.4.1.4.2"}
HNR_OID = "2.16.578.1.12.4.1.4.3"
HPR_OID = "2.16.578.1.12.4.1.4.4"


@dataclasses.dataclass(frozen=True, slots=True)
class Destination:
    receiving_application: str
    receiving_facility: str
    charset: str
    zone: zoneinfo.ZoneInfo
    site_authority: str  # how the site names itself as assigning authority (its MSH-4)


@dataclasses.dataclass(frozen=True, slots=True)
class PatientData:
    identifiers: tuple[tuple[str, str], ...]  # (kind, value)
    family_name: str
    given_name: str
    birth_date: dt.date | None
    sex: str


@dataclasses.dataclass(frozen=True, slots=True)
class OrderData:
    placer_order_number: str
    filler_order_number: str
    accession_number: str
    procedure_code: str
    procedure_text: str
    procedure_coding_system: str
    modality: str
    observed_at: dt.datetime  # OBR-7: when the examination was done
    study_instance_uid: str


def _sub(*values: str, seps: Separators) -> str:
    """Escaped subcomponents (e.g. an HD inside a CX component)."""
    parts = [escape(v, seps) for v in values]
    while parts and not parts[-1]:
        parts.pop()
    return seps.subcomponent.join(parts)


def _pid(patient: PatientData, destination: Destination, seps: Separators) -> str:
    reps = []
    for kind, value in patient.identifiers:
        if kind in NATIONAL_OIDS:
            authority = _sub("NO-FREG", NATIONAL_OIDS[kind], "ISO", seps=seps)
            type_code = "NNNOR"
        elif kind == "HNR":
            authority = _sub("HNR", HNR_OID, "ISO", seps=seps)
            type_code = "PI"
        else:
            authority = _sub(destination.site_authority, seps=seps)
            type_code = "MR"
        reps.append(seps.component.join([escape(value, seps), "", "", authority, type_code]))
    return segment(
        "PID",
        "1",
        "",
        seps.repetition.join(reps),
        "",
        components(patient.family_name, patient.given_name, seps=seps),
        "",
        patient.birth_date.strftime("%Y%m%d") if patient.birth_date else "",
        patient.sex,
        seps=seps,
    )


def _split_name(name: str) -> tuple[str, str]:
    """('Family', 'Given') from 'Given Family' (the display name signing records)."""
    given, _, family = name.strip().rpartition(" ")
    return (family, given) if family else (given, "")


def _reader_cnn(name: str, hpr: str, seps: Separators) -> str:
    family, given = _split_name(name)
    return _sub(hpr, family, given, "", "", "", "", "", "HPR", HPR_OID, "ISO", seps=seps)


def _reader_xcn(name: str, hpr: str, seps: Separators) -> str:
    family, given = _split_name(name)
    return components(hpr, family, given, "", "", "", "", "", "HPR", seps=seps)


def _obr(
    order: OrderData,
    destination: Destination,
    seps: Separators,
    *,
    status_time: dt.datetime | None = None,
    result_status: str = "",
    interpreter: str = "",
) -> str:
    fields = [""] * 32
    fields[0] = "1"
    fields[1] = escape(order.placer_order_number, seps)
    fields[2] = escape(order.filler_order_number, seps)
    fields[3] = components(
        order.procedure_code, order.procedure_text, order.procedure_coding_system, seps=seps
    )
    fields[6] = format_datetime(order.observed_at, destination.zone)
    fields[17] = escape(order.accession_number, seps)
    if status_time is not None:
        fields[21] = format_datetime(status_time, destination.zone)
    fields[23] = escape(order.modality, seps)
    fields[24] = result_status
    fields[31] = interpreter
    return segment("OBR", *fields, seps=seps)


def _obx_lines(
    *,
    start: int,
    code: str,
    title: str,
    sub_id: str,
    text: str,
    status: str,
    observed: str,
    observer: str,
    seps: Separators,
) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = []
    for offset, line in enumerate(lines):
        out.append(
            segment(
                "OBX",
                str(start + offset),
                "TX",
                components(code, title, "L", seps=seps),
                sub_id,
                escape(line, seps),
                "",
                "",
                "",
                "",
                "",
                status,
                "",
                "",
                observed,
                "",
                observer,
                seps=seps,
            )
        )
    return out


def _section_code(title: str) -> str:
    code = "".join(ch if ch.isalnum() else "_" for ch in title.upper()).strip("_")
    return code[:20] or "REPORT"


def _outbound_msh(
    identity: Identity,
    destination: Destination,
    *,
    at: dt.datetime,
    control_id: str,
    message_type: str,
) -> str:
    """MSH of a message we send to a site's RIS (v2.5, production, in the site's charset)."""
    return msh(
        sending_application=identity.application,
        sending_facility=identity.facility,
        receiving_application=destination.receiving_application,
        receiving_facility=destination.receiving_facility,
        at=at,
        zone=destination.zone,
        message_type=message_type,
        control_id=control_id,
        processing_id="P",
        version="2.5",
        charset=destination.charset,
    )


def oru_r01(
    *,
    identity: Identity,
    destination: Destination,
    patient: PatientData,
    order: OrderData,
    report: dict[str, object],
    control_id: str,
    at: dt.datetime,
) -> bytes:
    """ORU^R01 v2.5 for one report version (the outbox's frozen content)."""
    seps = DEFAULT_SEPARATORS
    status = str(report["result_status"])
    signed_at = dt.datetime.fromisoformat(str(report["signed_at"]))
    name, hpr = str(report["signed_by_name"]), str(report["signed_by_hpr"])
    observed = format_datetime(signed_at, destination.zone)
    observer = _reader_xcn(name, hpr, seps)
    lines = [
        _outbound_msh(
            identity, destination, at=at, control_id=control_id, message_type="ORU^R01^ORU_R01"
        ),
        _pid(patient, destination, seps),
        segment(
            "ORC",
            "RE",
            escape(order.placer_order_number, seps),
            escape(order.filler_order_number, seps),
            "",
            "CM",
            seps=seps,
        ),
        _obr(
            order,
            destination,
            seps,
            status_time=signed_at,
            result_status=status,
            interpreter=_reader_cnn(name, hpr, seps),
        ),
    ]
    obx: list[str] = []
    common = {"status": status, "observed": observed, "observer": observer, "seps": seps}
    sections = report.get("sections") or []
    assert isinstance(sections, list)
    for index, section in enumerate(sections, start=1):
        title = str(section["title"])
        obx += _obx_lines(
            start=len(obx) + 1,
            code=_section_code(title),
            title=title,
            sub_id=str(index),
            text=str(section["text"]),
            **common,  # type: ignore[arg-type]
        )
    if report.get("correction_reason"):
        obx += _obx_lines(
            start=len(obx) + 1,
            code="CORRECTION",
            title="Correction reason",
            sub_id=str(len(sections) + 1),
            text=str(report["correction_reason"]),
            **common,  # type: ignore[arg-type]
        )
    if report.get("critical_finding_category"):
        communications = report.get("critical_communications") or []
        assert isinstance(communications, list)
        told = [
            f"{c['communicated_to']} by {c['method']} at "
            f"{format_datetime(dt.datetime.fromisoformat(c['communicated_at']), destination.zone)}"
            + (" (read back)" if c.get("read_back_confirmed") else "")
            for c in communications
        ]
        text = "\n".join([f"Critical finding: {report['critical_finding_category']}", *told])
        obx += _obx_lines(
            start=len(obx) + 1,
            code="CRITICAL",
            title="Critical finding",
            sub_id=str(len(sections) + 2),
            text=text,
            **common,  # type: ignore[arg-type]
        )
    return encode(lines + obx, charset=destination.charset)


def order_return(
    *,
    identity: Identity,
    destination: Destination,
    patient: PatientData,
    order: OrderData,
    rejection: dict[str, object],
    control_id: str,
    at: dt.datetime,
) -> bytes:
    """ORM^O01 with ORC-1 OC: we, the filler, return the referral with a coded reason."""
    seps = DEFAULT_SEPARATORS
    rejected_at = dt.datetime.fromisoformat(str(rejection["rejected_at"]))
    orc = [""] * 16
    orc[0] = "OC"
    orc[1] = escape(order.placer_order_number, seps)
    orc[2] = escape(order.filler_order_number, seps)
    orc[4] = "CA"
    orc[8] = format_datetime(rejected_at, destination.zone)
    orc[9] = _reader_xcn(
        str(rejection["rejected_by_name"]), str(rejection["rejected_by_hpr"]), seps
    )
    orc[15] = components(
        str(rejection["reason_code"]), str(rejection["reason_text"]), "L", seps=seps
    )
    lines = [
        _outbound_msh(
            identity, destination, at=at, control_id=control_id, message_type="ORM^O01^ORM_O01"
        ),
        _pid(patient, destination, seps),
        segment("ORC", *orc, seps=seps),
        _obr(order, destination, seps),
    ]
    comment = str(rejection.get("comment") or "")
    for index, line in enumerate(comment.splitlines() if comment else [], start=1):
        lines.append(segment("NTE", str(index), "L", escape(line, seps), seps=seps))
    return encode(lines, charset=destination.charset)
