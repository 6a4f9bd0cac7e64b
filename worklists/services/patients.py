"""Patients as sites identify them: the patient an order or an update names (identifiers in
``patient_identifiers``, each site's record in ``patient_records``, merges in ``patient_merge``).

Lock order, everywhere a patient changes: study rows (by id), then identifier rows (by id), then
patient rows (by id). Order ingest (one order, or an HL7 batch's ``OrderLocks``), merges and
DICOM follow the same order, so a merge and an order for the same patient queue behind each
other instead of deadlocking.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from worklists import validation
from worklists.models import Patient, PatientIdentifier, Site
from worklists.services.alerts import alert_raise
from worklists.services.patient_identifiers import (
    IdentifierLocks,
    Keyed,
    PatientConflict,
    PatientInput,
    add_identifiers,
    identifiers_keyed,
    lock_identifier_keys,
    retrying,
)
from worklists.services.patient_records import (
    held_by_another_site,
    record_site_demographics,
    site_holds_patient,
)


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
        found = lock_identifier_keys(wanted) if wanted else []
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
        changed = record_site_demographics(
            patient=patient, site=site, patient_in=patient_in, new_record=create
        )
        new_identifiers = _attachable(patient, site, new_identifiers)
        add_identifiers(patient, new_identifiers)
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
        add_identifiers(patient, new_identifiers, new_patient=True)
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
    if not national or not held_by_another_site(patient.id, site):
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

    return retrying(once)
