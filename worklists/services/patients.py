"""Patients as sites identify them: resolving identifiers, demographics updates, merges.

Lock order, everywhere a patient changes: study rows (by id), then identifier rows (by id), then
patient rows (by id). Order ingest (one order, or an HL7 batch's ``OrderLocks``), merges and
DICOM follow the same order, so a merge and an order for the same patient queue behind each
other instead of deadlocking.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from worklists import live, validation
from worklists.actors import Actor
from worklists.errors import Conflict, DomainError, NotFound
from worklists.models import (
    Patient,
    PatientIdentifier,
    PatientRecord,
    Sex,
    Site,
    Study,
    StudyEvent,
)
from worklists.services.alerts import alert_raise


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
DEMOGRAPHICS = ("family_name", "given_name", "birth_date", "sex")


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


def _by_key(wanted: set[Keyed]) -> Q:
    """The identifiers (kind, authority, value), matched on the unique (authority, kind, value)
    index: kind and value alone would scan the whole table."""
    match = Q()
    for kind, authority, value in sorted(wanted):
        match |= Q(authority=authority, kind=kind, value=value)
    return match


def _lock_identifiers(
    wanted: set[Keyed], *, of_patients: Iterable[int] = ()
) -> list[PatientIdentifier]:
    """The wanted identifiers, and every identifier of ``of_patients`` (a merge moves them
    all), locked in id order like every other identifier lock."""
    of_patients = set(of_patients)
    if not wanted and not of_patients:
        return []
    match = _by_key(wanted) if wanted else Q(pk__in=[])
    if of_patients:
        match |= Q(patient_id__in=of_patients)
    rows = (
        PatientIdentifier.objects.select_for_update()
        .filter(match)
        .select_related("patient")
        .order_by("id")
    )
    return list(rows)


RECORDS_CONFLICT_ALERT = "patient.records_conflict"


def _apply_demographics(record: Patient | PatientRecord, patient_in: PatientInput) -> list[str]:
    """What the message states, written onto one record (not saved); the fields changed."""
    changed = []
    for name in DEMOGRAPHICS:
        value = getattr(patient_in, name)
        if value is not None and getattr(record, name) != value:
            setattr(record, name, value)
            changed.append(name)
    return changed


def _conflicting(one: tuple[Any, ...], other: tuple[Any, ...]) -> list[str]:
    """The demographics two records state differently; a value one of them does not know
    (no given name, no birth date, sex unknown) is no conflict."""
    unknown = {"given_name": "", "birth_date": None, "sex": Sex.UNKNOWN}
    fields = []
    for name, a, b in zip(DEMOGRAPHICS, one, other, strict=True):
        if name in unknown and unknown[name] in (a, b):
            continue
        if (a.casefold() if isinstance(a, str) else a) != (
            b.casefold() if isinstance(b, str) else b
        ):
            fields.append(name)
    return fields


def _settle(patient: Patient, records: list[PatientRecord], *, site: Site) -> None:
    """After a site's record changed: whether studies must look up their own site's record
    (``records_differ``), and a coordinator alert when records contradict each other."""
    row = patient.demographics()
    differ = any(r.demographics() != row for r in records)
    if differ != patient.records_differ:
        patient.records_differ = differ
        patient.save(update_fields=["records_differ"])
    sources = [(patient.home_site_id, row), *((r.site_id, r.demographics()) for r in records)]
    fields: set[str] = set()
    sites: set[int | None] = set()
    for index, (one_site, one) in enumerate(sources):
        for other_site, other in sources[index + 1 :]:
            if found := _conflicting(one, other):
                fields.update(found)
                sites.update((one_site, other_site))
    if not fields:
        return
    codes = dict(Site.objects.filter(id__in=sites - {None}).values_list("id", "code"))
    named = sorted(codes.get(s, "national register") if s else "national register" for s in sites)
    study_id = (
        Study.objects.filter(patient_id=patient.id, site_id=site.id)
        .order_by("-ordered_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
    alert_raise(
        kind=RECORDS_CONFLICT_ALERT,
        patient_id=patient.id,
        study_id=study_id,
        site_id=site.id,
        message=(
            f"Sites disagree about patient {patient.id}: {', '.join(sorted(fields))} "
            f"({', '.join(named)}). Each site's studies show its own record until it is "
            "corrected at the site that is wrong."
        ),
        data={"fields": sorted(fields), "sites": named},
    )


def _record_site_demographics(
    *, patient: Patient, site: Site, patient_in: PatientInput, new_record: bool = True
) -> list[str]:
    """Write what ``site`` states about ``patient`` into that site's own record, never into
    another site's; the fields of the site's record that changed. The patient row is locked
    (identifiers, then patient: the service lock order). ``new_record``: a site without a
    record of this patient yet gets one (an order); False: it does not (an update)."""
    if patient.home_site_id is None:
        # No site's record yet (a patient created from images): the first site to state
        # demographics makes it its own.
        patient.home_site = site
        changed = _apply_demographics(patient, patient_in)
        patient.save(update_fields=[*changed, "home_site", "updated_at"])
        return changed
    if patient.home_site_id == site.id:
        changed = _apply_demographics(patient, patient_in)
        if changed:
            patient.save(update_fields=[*changed, "updated_at"])
            if patient.records_differ or PatientRecord.objects.filter(patient=patient).exists():
                _settle(patient, list(PatientRecord.objects.filter(patient=patient)), site=site)
        return changed
    records = list(PatientRecord.objects.filter(patient=patient).order_by("id"))
    own = next((r for r in records if r.source == "site" and r.site_id == site.id), None)
    if own is None:
        if not new_record:
            return []
        # What the site does not state is taken from the home site's record, so that records
        # differ only where a site says something different.
        own = PatientRecord(
            patient=patient,
            site=site,
            source=PatientRecord.Source.SITE,
            family_name=patient.family_name,
            given_name=patient.given_name,
            birth_date=patient.birth_date,
            sex=patient.sex,
        )
        changed = _apply_demographics(own, patient_in)
        own.save()
        records.append(own)
    else:
        changed = _apply_demographics(own, patient_in)
        if not changed:
            return []
        own.save(update_fields=[*changed, "updated_at"])
    if changed:
        _settle(patient, records, site=site)
    return changed


def site_holds_patient(*, patient: Patient, site_id: int) -> bool:
    """Whether the site has a record of the patient: its home site, or a site with a record."""
    return (
        patient.home_site_id == site_id
        or PatientRecord.objects.filter(
            patient=patient, site_id=site_id, source=PatientRecord.Source.SITE
        ).exists()
    )


def _held_by_another_site(patient_id: int, site: Site) -> bool:
    """Whether a site other than ``site`` knows the patient: its studies, its record, or an
    identifier it issued."""
    return (
        Study.objects.filter(patient_id=patient_id).exclude(site_id=site.id).exists()
        or Patient.objects.filter(id=patient_id, home_site__isnull=False)
        .exclude(home_site_id=site.id)
        .exists()
        or PatientRecord.objects.filter(patient_id=patient_id, source=PatientRecord.Source.SITE)
        .exclude(site_id=site.id)
        .exists()
        or PatientIdentifier.objects.filter(patient_id=patient_id)
        .exclude(authority__in=(site.code, PatientIdentifier.NATIONAL_AUTHORITY))
        .exists()
    )


def _add_identifiers(patient: Patient, keyed: list[Keyed], *, new_patient: bool = False) -> None:
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


def _lock_identifier_keys(wanted: set[Keyed]) -> list[tuple[Keyed, int]]:
    return _found(_identifier_rows(wanted))


class IdentifierLocks:
    """The identifiers a batch of messages names, locked in one statement at the start of the
    batch's transaction, after its studies (see ``orders.OrderLocks``), so resolving each
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


def patient_resolve_locked(
    *,
    site: Site,
    patient_in: PatientInput,
    create: bool = True,
    identifiers: IdentifierLocks | None = None,
) -> tuple[Patient | None, list[str]]:
    """The patient these identifiers name (created if new and ``create``), and what changed.

    The caller owns the transaction. Identifiers not yet known are added to the patient.
    ``identifiers``: the batch's identifiers, locked already.
    """
    wanted = identifiers_keyed(site, patient_in.identifiers)
    found = identifiers.found(wanted) if identifiers is not None else None
    if found is None:
        found = _lock_identifier_keys(wanted) if wanted else []
    patient_ids = {patient_id for _key, patient_id in found}
    if len(patient_ids) > 1:
        raise PatientConflict("the identifiers belong to different patients; merge them first")
    changed: list[str] = []
    new_identifiers = sorted(wanted - {key for key, _patient_id in found})
    if patient_ids:
        patient = Patient.objects.select_for_update().get(id=next(iter(patient_ids)))
        if not create and not site_holds_patient(patient=patient, site_id=site.id):
            # An update from a site with no record of this patient changes nothing, and is
            # answered as one for a patient nobody knows.
            return None, []
        changed = _record_site_demographics(
            patient=patient, site=site, patient_in=patient_in, new_record=create
        )
        new_identifiers = _attachable(patient, site, new_identifiers)
        _add_identifiers(patient, new_identifiers)
    elif not create:
        return None, []
    else:
        patient = Patient(
            family_name=patient_in.family_name,
            given_name=patient_in.given_name or "",
            birth_date=patient_in.birth_date,
            sex=patient_in.sex or Patient._meta.get_field("sex").get_default(),
            home_site=site,
        )
        _add_identifiers(patient, new_identifiers, new_patient=True)
    if identifiers is not None:
        identifiers.added(new_identifiers, patient.id)
    if new_identifiers and patient_ids:
        changed.append("identifiers")
    return patient, [f"patient.{name}" for name in changed]


IDENTIFIER_REFUSED_ALERT = "patient.identifier_refused"


def _attachable(patient: Patient, site: Site, new_identifiers: list[Keyed]) -> list[Keyed]:
    """The new identifiers a site may add to a known patient: its own numbers always; a
    national number only to a patient no other site knows. A national number added to a
    patient other sites hold would let the next message naming it reach their patient: it is
    left out, and a coordinator alerted (the sender's answer does not change, so it learns
    nothing about other sites)."""
    national = [key for key in new_identifiers if key[1] == PatientIdentifier.NATIONAL_AUTHORITY]
    if not national or not _held_by_another_site(patient.id, site):
        return new_identifiers
    alert_raise(
        kind=IDENTIFIER_REFUSED_ALERT,
        patient_id=patient.id,
        site_id=site.id,
        message=(
            f"{site.code} named a new national number for patient {patient.id}, whom other "
            "sites also know; it was not added. A coordinator checks and merges if right."
        ),
        data={"site": site.code, "kinds": sorted({kind for kind, _a, _v in national})},
    )
    return [key for key in new_identifiers if key not in national]


def _retrying(change: Callable[[], T], attempts: int = 3) -> T:
    for _attempt in range(attempts):
        try:
            return change()
        except ConcurrentCreate:
            continue
    raise PatientConflict("the change kept colliding with a concurrent change; send it again")


@dataclass(frozen=True, slots=True)
class PatientChange:
    patient_id: int | None  # None: no patient known by these identifiers
    changed_fields: list[str] = dataclasses.field(default_factory=list)
    moved_study_ids: list[int] = dataclasses.field(default_factory=list)


def patient_update(*, site_id: int, patient: PatientInput) -> PatientChange:
    """Demographics and identifiers of a known patient (ADT^A08). An unknown patient is not
    created: this platform learns patients from their orders."""
    patient = validation.valid_patient(patient, today=timezone.localdate())

    @transaction.atomic
    def once() -> PatientChange:
        site = Site.objects.get(id=site_id)
        found, changed = patient_resolve_locked(site=site, patient_in=patient, create=False)
        return PatientChange(patient_id=found.id if found else None, changed_fields=changed)

    return _retrying(once)


def patient_merge(
    *,
    site_id: int,
    surviving: PatientInput,
    prior: tuple[IdentifierInput, ...],
    actor: Actor,
) -> PatientChange:
    """Merge the patient named by ``prior`` into the one named by ``surviving`` (ADT^A40).

    The prior patient's studies and identifiers move to the survivor, each study with an event;
    the prior patient row stays (audit rows point at it) with nothing left on it. If no patient
    holds the surviving identifiers yet, the prior patient simply gains them. Repeating a merge
    changes nothing.

    A site merges only what it assigned: ``prior`` names its own record numbers, and a prior
    patient other sites also know is neither moved nor given a national number (a coordinator
    merges across sites). The surviving demographics are the sending site's record.
    """
    surviving = validation.valid_patient(surviving, today=timezone.localdate())
    prior = validation.valid_identifiers(prior, at="prior")

    @transaction.atomic
    def once() -> PatientChange:
        site = Site.objects.get(id=site_id)
        wanted_surviving = identifiers_keyed(site, surviving.identifiers)
        wanted_prior = identifiers_keyed(site, prior)
        if any(authority != site.code for _kind, authority, _value in wanted_prior):
            # Answered before anything is looked up: the same whether or not the number is
            # anybody's patient.
            raise PatientError(NOT_OWN_PRIOR, field="prior")
        # Lock order as in order ingest: studies first, then identifiers, then patients. The
        # prior patient's studies are looked up unlocked, locked, then confirmed below.
        expected_prior = set(
            PatientIdentifier.objects.filter(_by_key(wanted_prior)).values_list(
                "patient_id", flat=True
            )
        )
        # Locked (they may move), not read: whether other sites hold the patient is asked below.
        list(
            Study.objects.select_for_update()
            .filter(patient_id__in=expected_prior)
            .order_by("id")
            .values_list("id", "site_id")
        )
        rows = _lock_identifiers(wanted_surviving | wanted_prior, of_patients=expected_prior)
        keys = [((r.kind, r.authority, r.value), r.patient_id) for r in rows]
        surviving_ids = {patient_id for key, patient_id in keys if key in wanted_surviving}
        prior_ids = {patient_id for key, patient_id in keys if key in wanted_prior}
        if not prior_ids:
            raise PatientNotFound("no patient holds the prior identifiers", field="prior")
        if len(prior_ids) > 1 or len(surviving_ids) > 1:
            which = "prior" if len(prior_ids) > 1 else "patient.identifiers"
            raise PatientConflict("the identifiers name more than one patient", field=which)
        if prior_ids != expected_prior:
            raise ConcurrentCreate  # the identifiers moved between our look and our lock
        prior_id = next(iter(prior_ids))
        survivor_id = next(iter(surviving_ids)) if surviving_ids else prior_id
        known = {(r.kind, r.authority, r.value) for r in rows}
        new_identifiers = sorted(wanted_surviving - known)
        adds_national = any(
            a == PatientIdentifier.NATIONAL_AUTHORITY for _k, a, _v in new_identifiers
        )
        if (survivor_id != prior_id or adds_national) and _held_by_another_site(prior_id, site):
            # One site's RIS must not move other sites' studies (and their signed reports) to
            # another person, nor give their patient a national number. One answer for both,
            # whether or not the surviving number is known anywhere.
            raise PatientConflict(CROSS_SITE_MERGE, field="prior")
        locked = {
            p.id: p
            for p in Patient.objects.select_for_update()
            .filter(id__in={prior_id, survivor_id})
            .order_by("id")
        }
        survivor = locked[survivor_id]
        moved: list[int] = []
        if survivor_id != prior_id:
            moved = _move_studies(prior_id=prior_id, survivor=survivor, actor=actor)
            PatientIdentifier.objects.filter(patient_id=prior_id).update(patient=survivor)
            _move_records(prior=locked[prior_id], survivor=survivor)
        _add_identifiers(survivor, new_identifiers)
        changed = _record_site_demographics(patient=survivor, site=site, patient_in=surviving)
        if survivor_id != prior_id and not changed:
            _settle(survivor, list(survivor.records.order_by("id")), site=site)
        if new_identifiers:
            changed.append("identifiers")
        if moved:
            changed.append("studies")
        return PatientChange(
            patient_id=survivor.id,
            changed_fields=[f"patient.{name}" for name in changed],
            moved_study_ids=moved,
        )

    return _retrying(once)


NOT_OWN_PRIOR = (
    "MRG-1 must name this site's own record numbers: a site merges only the identifiers it "
    "assigned (a national number is merged by a coordinator)"
)
CROSS_SITE_MERGE = (
    "the prior patient is known at other sites too; a merge across sites is done by a "
    "coordinator, not by one site's ADT^A40"
)


def _move_records(*, prior: Patient, survivor: Patient) -> None:
    """The prior patient's records of its sites go with it to the survivor, where the survivor
    has none from that source yet (the prior row itself is its home site's record)."""
    held = {(r.source, r.site_id) for r in survivor.records.all()}
    held.add((PatientRecord.Source.SITE, survivor.home_site_id))
    if (
        prior.home_site_id is not None
        and (PatientRecord.Source.SITE, prior.home_site_id) not in held
    ):
        PatientRecord.objects.create(
            patient=survivor,
            site_id=prior.home_site_id,
            source=PatientRecord.Source.SITE,
            family_name=prior.family_name,
            given_name=prior.given_name,
            birth_date=prior.birth_date,
            sex=prior.sex,
        )
        held.add((PatientRecord.Source.SITE, prior.home_site_id))
    for record in prior.records.order_by("id"):
        if (record.source, record.site_id) in held:
            record.delete()
        else:
            record.patient = survivor
            record.save(update_fields=["patient"])
            held.add((record.source, record.site_id))


def _move_studies(*, prior_id: int, survivor: Patient, actor: Actor) -> list[int]:
    studies = list(
        Study.objects.select_for_update()
        .filter(patient_id=prior_id)
        .order_by("id")
        .only("id", "site_id", "status")
    )
    if not studies:
        return []
    now = timezone.now()
    Study.objects.filter(id__in=[s.id for s in studies]).update(patient=survivor, updated_at=now)
    StudyEvent.objects.bulk_create(
        StudyEvent(
            study_id=s.id,
            from_status=s.status,
            to_status=s.status,
            actor_id=actor.user_id,
            actor_label=actor.label,
            at=now,
            reason="patient merged",
            data={"from_patient_id": prior_id, "to_patient_id": survivor.id},
        )
        for s in studies
    )
    for s in studies:
        live.broadcast_after_commit(
            study_id=s.id, site_id=s.site_id, event="study.updated", status=s.status
        )
    return [s.id for s in studies]
