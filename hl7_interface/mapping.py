"""Inbound HL7 messages as the commands the domain services take. Pure: no database.

ORM^O01 (v2.3-2.5.1) and OMI^O23 (v2.5.1) become orders, ADT^A08 a demographics update and
ADT^A40 a merge. Every rejection names the segment, field and value it is about.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from hl7_interface.codec import Hl7Error, Message, Segment
from hl7_interface.datetimes import parse_date, parse_datetime
from worklists import validation
from worklists.errors import InvalidData
from worklists.models import Modality
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
)

SUPPORTED_VERSIONS = {
    "ORM^O01": ("2.3", "2.3.1", "2.4", "2.5", "2.5.1"),
    "OMI^O23": ("2.5", "2.5.1", "2.6", "2.7"),
    "ADT^A08": ("2.3", "2.3.1", "2.4", "2.5", "2.5.1"),
    "ADT^A40": ("2.3", "2.3.1", "2.4", "2.5", "2.5.1"),
}

# Assigning authorities (CX-4 namespace or OID) of Norwegian national numbers.
NATIONAL_REGISTER_AUTHORITIES = frozenset(
    {"NO-FREG", "FREG", "FOLKEREGISTERET", "2.16.578.1.12.4.1.4.1", "2.16.578.1.12.4.1.4.2"}
)
H_NUMBER_AUTHORITIES = frozenset({"2.16.578.1.12.4.1.4.3"})
NATIONAL_TYPE_CODES = frozenset({"NNNOR", "FNR", "DNR"})
LOCAL_TYPE_CODES = frozenset({"MR", "PI", "PT"})

PRIORITIES = {"S": "STAT", "A": "URGENT", "R": "ROUTINE", "T": "URGENT", "P": "ROUTINE"}
SEXES = {"F": "F", "M": "M", "O": "O", "U": "U", "A": "O", "N": "U"}
MODALITY_SYNONYMS = {"MRI": "MR", "RX": "DX", "XR": "DX", "RG": "DX", "UL": "US", "MAM": "MG"}
ORDER_CONTROLS = {
    "NW": OrderAction.NEW,
    "CA": OrderAction.CANCEL,
    "DC": OrderAction.CANCEL,
    "XO": OrderAction.UPDATE,
    "SC": OrderAction.UPDATE,
}


@dataclasses.dataclass(frozen=True, slots=True)
class SiteContext:
    code: str
    sending_facility: str
    zone: zoneinfo.ZoneInfo


@dataclasses.dataclass(frozen=True, slots=True)
class OrdersCommand:
    orders: tuple[OrderInput, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class PatientUpdateCommand:
    patient: PatientInput


@dataclasses.dataclass(frozen=True, slots=True)
class PatientMergeCommand:
    patient: PatientInput
    prior: tuple[IdentifierInput, ...]


Command = OrdersCommand | PatientUpdateCommand | PatientMergeCommand


def check_type(message_type: str, version: str) -> None:
    """Raise AR for a message type, event or version this interface does not take."""
    code, _, _event = message_type.partition("^")
    if message_type not in SUPPORTED_VERSIONS:
        known_codes = {t.partition("^")[0] for t in SUPPORTED_VERSIONS}
        raise Hl7Error(
            f"message type not supported (supported: {', '.join(sorted(SUPPORTED_VERSIONS))})",
            segment="MSH",
            field=9,
            value=message_type,
            ack_code="AR",
            error_code="201" if code in known_codes else "200",
        )
    if version not in SUPPORTED_VERSIONS[message_type]:
        raise Hl7Error(
            f"version not supported for {message_type} "
            f"(supported: {', '.join(SUPPORTED_VERSIONS[message_type])})",
            segment="MSH",
            field=12,
            value=version,
            ack_code="AR",
            error_code="203",
        )


def to_command(message: Message, site: SiteContext) -> Command:
    message_type = f"{message.message_code}^{message.trigger_event}"
    check_type(message_type, message.version)
    if message_type == "ADT^A08":
        return PatientUpdateCommand(patient=_patient(message, site))
    if message_type == "ADT^A40":
        return _merge(message, site)
    return OrdersCommand(orders=_orders(message, site))


def _fits(value: str, limit: int, *, segment: str, field: int, what: str) -> str:
    if len(value) > limit:
        raise Hl7Error(
            f"{what} is {len(value)} characters, at most {limit} are kept",
            segment=segment,
            field=field,
            value=value[:40],
            error_code="102",
        )
    return value


def _required(message: Message, name: str) -> Segment:
    segment = message.first(name)
    if segment is None:
        raise Hl7Error("required segment missing", segment=name, error_code="100")
    return segment


# --- Patients -------------------------------------------------------------------------------


def _identifiers(pid: Segment, number: int, site: SiteContext) -> tuple[IdentifierInput, ...]:
    """The identifiers we know how to key, chosen by assigning authority, not by position."""
    seg_name = pid.name
    chosen: dict[tuple[str, str], IdentifierInput] = {}
    for rep in pid.repetitions(number):
        parts = rep.split(pid.seps.component)
        value = pid.components(rep)[0].strip() if parts else ""
        if not value:
            continue
        _fits(value, 64, segment=seg_name, field=number, what="the identifier")
        authority_parts = (
            parts[3].split(pid.seps.subcomponent) if len(parts) > 3 and parts[3] else []
        )
        authorities = {a.strip().upper() for a in authority_parts[:2] if a.strip()}
        type_code = parts[4].strip().upper() if len(parts) > 4 else ""
        own = {site.code.upper(), site.sending_facility.upper()} - {""}
        if authorities & NATIONAL_REGISTER_AUTHORITIES or (
            not authorities and type_code in NATIONAL_TYPE_CODES
        ):
            try:
                # The kind (FNR, DNR) is read from the number; the order service checks it
                # again by the same rule, as it does for every channel.
                kind = validation.national_number(value).kind.value
            except InvalidData as exc:
                raise Hl7Error(
                    str(exc), segment=seg_name, field=number, value=value, error_code="102"
                ) from None
            # An H-nummer is issued by the institution, so it is keyed like a local number.
            chosen[(kind, value)] = IdentifierInput(kind=kind, value=value)
        elif authorities & H_NUMBER_AUTHORITIES:
            chosen[("HNR", value)] = IdentifierInput(kind="HNR", value=value)
        elif authorities & own or (not authorities and type_code in LOCAL_TYPE_CODES):
            chosen[("MR", value)] = IdentifierInput(kind="MR", value=value)
        # Anything else is another authority's number (another hospital's record number):
        # not ours to key a patient on, so it is left out.
    if not chosen:
        raise Hl7Error(
            "no identifier from the national register (NO-FREG) or from this site "
            f"({site.code}) in the repetitions of this field",
            segment=seg_name,
            field=number,
            value=pid.raw(number)[:60],
            error_code="101",
        )
    return tuple(chosen.values())


def _patient(message: Message, site: SiteContext) -> PatientInput:
    pid = _required(message, "PID")
    family = pid.component(5, 1).strip()[:100]
    if not family:
        raise Hl7Error("patient family name is empty", segment="PID", field=5, error_code="101")
    sex_code = pid.text(8).strip().upper()
    if sex_code and sex_code not in SEXES:
        raise Hl7Error(
            "administrative sex must be F, M, O, U, A or N",
            segment="PID",
            field=8,
            value=sex_code,
            error_code="103",
        )
    return PatientInput(
        identifiers=_identifiers(pid, 3, site),
        family_name=family,
        given_name=pid.component(5, 2).strip()[:100] or None,
        birth_date=parse_date(pid.text(7).strip(), segment="PID", field=7),
        sex=SEXES[sex_code] if sex_code else None,
    )


def _merge(message: Message, site: SiteContext) -> PatientMergeCommand:
    mrg = _required(message, "MRG")
    return PatientMergeCommand(patient=_patient(message, site), prior=_identifiers(mrg, 1, site))


# --- Orders ---------------------------------------------------------------------------------


def _order_groups(message: Message) -> list[tuple[Segment, dict[str, Segment]]]:
    """Each ORC with the segments of its order (OBR, TQ1, IPC, ZDS) up to the next ORC."""
    groups: list[tuple[Segment, dict[str, Segment]]] = []
    for segment in message.segments:
        if segment.name == "ORC":
            groups.append((segment, {}))
        elif groups and segment.name in {"OBR", "TQ1", "IPC", "ZDS"}:
            groups[-1][1].setdefault(segment.name, segment)
    if not groups:
        raise Hl7Error("required segment missing", segment="ORC", error_code="100")
    return groups


def _orders(message: Message, site: SiteContext) -> tuple[OrderInput, ...]:
    patient = _patient(message, site)
    orders = []
    for orc, parts in _order_groups(message):
        obr = parts.get("OBR")
        if obr is None:
            raise Hl7Error("required segment missing after ORC", segment="OBR", error_code="100")
        orders.append(_order(message, site, patient, orc, obr, parts))
    return tuple(orders)


def _order(
    message: Message,
    site: SiteContext,
    patient: PatientInput,
    orc: Segment,
    obr: Segment,
    parts: dict[str, Segment],
) -> OrderInput:
    control = orc.text(1).strip().upper()
    if control not in ORDER_CONTROLS:
        raise Hl7Error(
            f"order control not supported (supported: {', '.join(ORDER_CONTROLS)})",
            segment="ORC",
            field=1,
            value=control,
            error_code="103",
        )
    action = ORDER_CONTROLS[control]
    ipc = parts.get("IPC")
    accession = obr.text(18).strip() or (ipc.text(1).strip() if ipc else "")
    if not accession:
        where = "OBR-18 and IPC-1 are" if message.message_code == "OMI" else "OBR-18 is"
        raise Hl7Error(
            f"accession number missing: {where} empty",
            segment="OBR",
            field=18,
            error_code="101",
        )
    _fits(accession, 64, segment="OBR", field=18, what="the accession number")
    if action is OrderAction.CANCEL:
        reason = orc.component(16, 2) or orc.component(16, 1) or f"order control {control}"
        return OrderInput(accession_number=accession, action=action, reason=reason)
    study = _study(message, site, orc, obr, parts)
    # SC with order status CM: the examination is complete, its images are in the archive.
    images = control == "SC" and orc.text(5).strip().upper() == "CM"
    return OrderInput(
        accession_number=accession,
        action=action,
        patient=patient,
        study=study,
        images_available=images,
    )


def _modality(obr: Segment, ipc: Segment | None) -> str | None:
    candidates = [(ipc, 5)] if ipc else []
    candidates.append((obr, 24))
    for segment, field in candidates:
        value = segment.text(field).strip().upper()
        if not value:
            continue
        value = MODALITY_SYNONYMS.get(value, value)
        if value not in Modality.values:
            raise Hl7Error(
                f"unknown modality (known: {', '.join(Modality.values)})",
                segment=segment.name,
                field=field,
                value=value,
                error_code="103",
            )
        return value
    return None


def _priority(orc: Segment, obr: Segment, tq1: Segment | None) -> str | None:
    candidates = []
    if tq1:
        candidates.append((tq1, 9, tq1.component(9, 1)))
    candidates.append((orc, 7, orc.component(7, 6)))
    candidates.append((obr, 5, obr.text(5)))
    for segment, field, raw in candidates:
        code = raw.strip().upper()
        if not code:
            continue
        if code not in PRIORITIES:
            raise Hl7Error(
                "priority must be S (stat), A (asap), R (routine), T or P",
                segment=segment.name,
                field=field,
                value=code,
                error_code="103",
            )
        return PRIORITIES[code]
    return None


def _ordered_at(
    message: Message, orc: Segment, obr: Segment, zone: zoneinfo.ZoneInfo
) -> dt.datetime | None:
    for segment, field in ((orc, 9), (obr, 6), (obr, 7)):
        text = segment.text(field).strip()
        value = parse_datetime(text, zone=zone, segment=segment.name, field=field)
        if value is not None:
            return value
    return parse_datetime(message.msh.text(7).strip(), zone=zone, segment="MSH", field=7)


def _order_number(orc: Segment, obr: Segment, field: int, *, what: str) -> str:
    """ORC-2 (placer) or ORC-3 (filler), else the OBR's copy in the same field: each order of a
    message has its own numbers, which its result must carry back."""
    for segment in (orc, obr):
        value = segment.component(field).strip()
        if value:
            return _fits(value, 199, segment=segment.name, field=field, what=what)
    return ""


def _person(segment: Segment, field: int) -> str | None:
    """XCN as a display name: 'Given Family' (id kept out: it is not a name)."""
    family = segment.component(field, 2).strip()
    given = segment.component(field, 3).strip()
    name = " ".join(p for p in (given, family) if p)
    return name or None


def _study(
    message: Message,
    site: SiteContext,
    orc: Segment,
    obr: Segment,
    parts: dict[str, Segment],
) -> StudyInput:
    ipc = parts.get("IPC")
    zds = parts.get("ZDS")
    uid = (zds.text(1).strip() if zds else "") or (ipc.text(3).strip() if ipc else "")
    code = obr.component(4, 1).strip()
    text = obr.component(4, 2).strip() or obr.component(4, 5).strip()
    system = obr.component(4, 3).strip()
    question = obr.text(13).strip()
    referring = _person(obr, 16) or _person(orc, 12)
    placer = _order_number(orc, obr, 2, what="the placer order number")
    filler = _order_number(orc, obr, 3, what="the filler order number")
    _fits(uid, 64, segment="ZDS" if zds else "IPC", field=1 if zds else 3, what="the UID")
    _fits(code, 32, segment="OBR", field=4, what="the procedure code")
    _fits(system, 32, segment="OBR", field=4, what="the coding system")
    # Free text longer than its column is cut, not refused: the order matters more than the
    # tail of a description or a name.
    text = text[:300]
    referring = referring[:200] if referring else None
    return StudyInput(
        modality=_modality(obr, ipc),
        procedure_text=text or None,
        ordered_at=_ordered_at(message, orc, obr, site.zone),
        procedure_code=code or None,
        procedure_coding_system=system or None,
        priority=_priority(orc, obr, parts.get("TQ1")),
        clinical_question=question or None,
        referring_physician=referring,
        study_instance_uid=uid or None,
        placer_order_number=placer or None,
        filler_order_number=filler or None,
    )
