"""The rules an order or a patient must meet before anything is written, in one place.

Pure: no database, no request. The order and patient services call these for every channel
(REST, HL7, DICOM), so a rule holds the same whichever way the data came in; serializers and
the HL7 mapping only parse shapes. A broken rule raises InvalidData with one Problem per broken
rule, each at its place in the order document (the REST API's field names).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from worklists import nin
from worklists.errors import InvalidData, Path, Problem

if TYPE_CHECKING:
    from worklists.services.orders import OrderInput
    from worklists.services.patient_identifiers import IdentifierInput, PatientInput

# Kinds of identifier in the national format, checked with their check digits (as the model's
# PatientIdentifier.NATIONAL_KINDS; not imported from the models to stay free of Django).
NATIONAL_KINDS = frozenset({"FNR", "DNR", "HNR"})

# What a new order must state: the study's place in the document and the StudyInput field.
REQUIRED_FOR_NEW_STUDY = (
    ("modality", "modality"),
    ("procedure", "procedure_text"),
    ("ordered_at", "ordered_at"),
)
REQUIRED = "required for a new order"
NEW_ORDER = "new"  # OrderAction.NEW: named by value, this module imports no service
FUTURE_BIRTH_DATE = "cannot be in the future"


def national_number(value: str, *, kind: str | None = None) -> nin.NationalIdentityNumber:
    """``value`` as a national identity number (of ``kind``, when stated); InvalidData with
    the reason (which check digit, which date) otherwise."""
    return _national_number(value, kind=kind, path=("value",))


def _national_number(value: str, *, kind: str | None, path: Path) -> nin.NationalIdentityNumber:
    try:
        return nin.parse_as(kind, value) if kind else nin.parse(value)
    except nin.InvalidNationalIdentityNumber as exc:
        raise InvalidData(
            [Problem(path, f"not a valid national identity number: {exc} ({value})")]
        ) from None


def birth_date_problem(birth_date: dt.date | None, *, today: dt.date) -> str | None:
    """Why ``birth_date`` cannot be a patient's, or None."""
    if birth_date is not None and birth_date > today:
        return FUTURE_BIRTH_DATE
    return None


def usable_birth_date(birth_date: dt.date | None, *, today: dt.date) -> dt.date | None:
    """The birth date a channel that cannot refuse (DICOM: the images are kept whatever their
    header says) may store: None where the rule is broken, so the record stays unknown instead
    of wrong."""
    return None if birth_date_problem(birth_date, today=today) else birth_date


def _identifiers(
    identifiers: tuple[IdentifierInput, ...], *, at: Path, problems: list[Problem]
) -> tuple[IdentifierInput, ...]:
    """National numbers checked and normalised (spaces and dashes taken out)."""
    out = []
    for index, identifier in enumerate(identifiers):
        if identifier.kind in NATIONAL_KINDS:
            try:
                parsed = _national_number(
                    identifier.value, kind=identifier.kind, path=(*at, index, "value")
                )
            except InvalidData as exc:
                problems.extend(exc.problems)
            else:
                identifier = dataclasses.replace(identifier, value=parsed.value)
        out.append(identifier)
    return tuple(out)


def _patient(
    patient: PatientInput, *, today: dt.date, at: Path, problems: list[Problem]
) -> PatientInput:
    identifiers = _identifiers(patient.identifiers, at=(*at, "identifiers"), problems=problems)
    if why := birth_date_problem(patient.birth_date, today=today):
        problems.append(Problem((*at, "birth_date"), why))
    return dataclasses.replace(patient, identifiers=identifiers)


def valid_patient(patient: PatientInput, *, today: dt.date) -> PatientInput:
    """``patient`` with its national numbers normalised; InvalidData naming every broken rule."""
    problems: list[Problem] = []
    checked = _patient(patient, today=today, at=("patient",), problems=problems)
    if problems:
        raise InvalidData(problems)
    return checked


def valid_identifiers(
    identifiers: tuple[IdentifierInput, ...], *, at: str
) -> tuple[IdentifierInput, ...]:
    """Identifiers on their own (a merge's prior patient), normalised; InvalidData if not."""
    problems: list[Problem] = []
    checked = _identifiers(identifiers, at=(at,), problems=problems)
    if problems:
        raise InvalidData(problems)
    return checked


def valid_order(order: OrderInput, *, today: dt.date) -> OrderInput:
    """``order`` with its patient's national numbers normalised; InvalidData naming every
    broken rule: what a new order needs, the patient's identifiers and birth date."""
    problems: list[Problem] = []
    if order.action == NEW_ORDER:
        if order.patient is None:
            problems.append(Problem(("patient",), REQUIRED))
        if order.study is None:
            problems.append(Problem(("study",), REQUIRED))
        else:
            problems.extend(
                Problem(("study", name), REQUIRED)
                for name, attribute in REQUIRED_FOR_NEW_STUDY
                if getattr(order.study, attribute) is None
            )
    patient = order.patient
    if patient is not None:
        patient = _patient(patient, today=today, at=("patient",), problems=problems)
    if problems:
        raise InvalidData(problems)
    return order if patient is None else dataclasses.replace(order, patient=patient)
