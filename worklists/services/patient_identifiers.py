"""Who a message names: the identifiers of a patient, the patient as a message states it, and
the locks on identifier rows (in id order, after the studies: see ``patients``).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError
from django.db.models import Q

from worklists.errors import Conflict, DomainError, NotFound
from worklists.models import Patient, PatientIdentifier, Site


class PatientError(DomainError):
    """The patient change cannot be applied as sent; ``field`` names the offending part."""

    default_field = "patient.identifiers"


class PatientConflict(PatientError, Conflict):
    pass


class PatientNotFound(PatientError, NotFound):
    pass


class ConcurrentCreate(Exception):
    """A unique key was taken by a concurrent transaction: run the whole change again."""


@dataclass(frozen=True, slots=True)
class IdentifierInput:
    kind: str
    value: str
    authority: str = ""  # empty: the authority that issues this kind (identifiers_keyed)


@dataclass(frozen=True, slots=True)
class PatientInput:
    """A patient as a message states it; None means "not stated": a known value is kept."""

    identifiers: tuple[IdentifierInput, ...]
    family_name: str
    given_name: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None


T = TypeVar("T")
Keyed = tuple[str, str, str]  # (kind, authority, value)


def identifiers_keyed(site: Site, identifiers: tuple[IdentifierInput, ...]) -> set[Keyed]:
    """(kind, authority, value) for each identifier, with the authority that issues its kind.

    National numbers belong to the national register whoever sends them, so one person is one
    patient across all sites; any other identifier is the sending site's own.
    """
    keyed = set()
    for identifier in identifiers:
        national = identifier.kind in PatientIdentifier.NATIONAL_REGISTER_KINDS
        authority = PatientIdentifier.NATIONAL_AUTHORITY if national else site.code
        if identifier.authority and identifier.authority != authority:
            raise PatientError(
                f"a {identifier.kind} from this site is issued by {authority!r}, "
                f"not {identifier.authority!r}"
            )
        keyed.add((identifier.kind, authority, identifier.value))
    return keyed


def by_key(wanted: set[Keyed]) -> Q:
    """The identifiers (kind, authority, value), matched on the unique (authority, kind, value)
    index: kind and value alone would scan the whole table."""
    match = Q()
    for kind, authority, value in sorted(wanted):
        match |= Q(authority=authority, kind=kind, value=value)
    return match


def lock_identifiers(
    wanted: set[Keyed], *, of_patients: Iterable[int] = ()
) -> list[PatientIdentifier]:
    """The wanted identifiers, and every identifier of ``of_patients`` (a merge moves them
    all), locked in id order like every other identifier lock."""
    of_patients = set(of_patients)
    if not wanted and not of_patients:
        return []
    match = by_key(wanted) if wanted else Q(pk__in=[])
    if of_patients:
        match |= Q(patient_id__in=of_patients)
    rows = (
        PatientIdentifier.objects.select_for_update()
        .filter(match)
        .select_related("patient")
        .order_by("id")
    )
    return list(rows)


def add_identifiers(patient: Patient, keyed: list[Keyed], *, new_patient: bool = False) -> None:
    """Add the identifiers ``keyed`` to ``patient``; ``new_patient``: it is not stored yet, and
    is stored with the first of them (one statement where the database can), or alone when
    there are none."""
    try:
        for index, (kind, authority, value) in enumerate(keyed):
            identifier = PatientIdentifier(kind=kind, authority=authority, value=value)
            if new_patient and index == 0:
                patient.save(force_insert=True)
            identifier.patient = patient
            identifier.save(force_insert=True)
    except IntegrityError as exc:
        # Another message named the same new identifier an instant earlier and has committed
        # (a unique index waits for the other transaction): the caller's retry finds it. No
        # savepoint: the whole transaction is rolled back and run again.
        raise ConcurrentCreate from exc
    if new_patient and not keyed:
        patient.save(force_insert=True)


def _found(rows: list[tuple[Any, ...]]) -> list[tuple[Keyed, int]]:
    return [((kind, authority, value), patient_id) for authority, kind, value, patient_id in rows]


def _identifier_rows(wanted: Iterable[Keyed]) -> list[tuple[Any, ...]]:
    """(authority, kind, value, patient id) of the wanted identifiers that exist, locked in id
    order. Matched on the unique (authority, kind, value) index: kind and value alone would
    scan the table."""
    keys = sorted(wanted)
    if not keys:
        return []
    matches = functools.reduce(
        operator.or_,
        (Q(authority=authority, kind=kind, value=value) for kind, authority, value in keys),
    )
    return list(
        PatientIdentifier.objects.select_for_update()
        .filter(matches)
        .order_by("id")
        .values_list("authority", "kind", "value", "patient_id")
    )


def lock_identifier_keys(wanted: set[Keyed]) -> list[tuple[Keyed, int]]:
    return _found(_identifier_rows(wanted))


class IdentifierLocks:
    """The identifiers a batch of messages names, locked in one statement at the start of the
    batch's transaction, after its studies (see ``order_locks.OrderLocks``), so resolving each
    order's patient needs no lock query of its own. Identifiers the batch adds are recorded
    here.

    A patient update or merge in the batch may move identifiers from one patient to another:
    after one, ``forget()`` and the lookups go to the database again. An identifier added by
    another transaction after this snapshot is not missed: its unique key makes our INSERT fail
    and the batch run again.
    """

    def __init__(self, wanted: Iterable[Keyed], rows: list[tuple[Any, ...]]) -> None:
        self._patient_of: dict[Keyed, int | None] | None = dict.fromkeys(wanted)
        for key, patient_id in _found(rows):
            self._patient_of[key] = patient_id

    @staticmethod
    def rows(wanted: Iterable[Keyed]) -> list[tuple[Any, ...]]:
        return _identifier_rows(wanted)

    def found(self, wanted: set[Keyed]) -> list[tuple[Keyed, int]] | None:
        """The wanted identifiers that exist, with their patient ids; None when this snapshot
        does not cover them all (look them up, locking, in the database)."""
        known = self._patient_of
        if known is None or not wanted.issubset(known):
            return None
        return [(key, patient_id) for key in wanted if (patient_id := known[key]) is not None]

    def added(self, keys: Iterable[Keyed], patient_id: int) -> None:
        if self._patient_of is not None:
            for key in keys:
                self._patient_of[key] = patient_id

    def forget(self) -> None:
        self._patient_of = None


def retrying(change: Callable[[], T], attempts: int = 3) -> T:
    for _attempt in range(attempts):
        try:
            return change()
        except ConcurrentCreate:
            continue
    raise PatientConflict("the change kept colliding with a concurrent change; send it again")
