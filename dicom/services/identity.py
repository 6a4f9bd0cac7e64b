"""The patient the images name, by the rules order ingest uses for identifiers, and whether
that is the study's patient."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from dicom.metadata import NATIONAL_ISSUERS, InstanceMeta
from worklists import validation
from worklists.errors import InvalidData
from worklists.models import Patient, PatientIdentifier, Site, Study
from worklists.services.patient_identifiers import IdentifierInput, PatientInput, identifiers_keyed
from worklists.services.patients import patient_resolve_locked


def patient_identity(site: Site, patient_id: str, issuer: str) -> tuple[str, str, str] | None:
    """(kind, authority, value) for the images' PatientID, by the rules order ingest uses.

    A valid national number under the national register (or under no issuer) is the person's
    fødselsnummer/D-nummer; anything else is the site's own record number. The number is
    checked by the rule orders are (worklists.validation); images are never refused for it: an
    invalid one is kept as the site's record number, which names nobody else.
    """
    if not patient_id:
        return None
    kind, value = PatientIdentifier.Kind.LOCAL.value, patient_id
    if issuer.strip().upper() in NATIONAL_ISSUERS:
        try:
            parsed = validation.national_number(patient_id)
        except InvalidData:
            parsed = None
        if parsed is not None and parsed.kind.value in PatientIdentifier.NATIONAL_REGISTER_KINDS:
            kind, value = parsed.kind.value, parsed.value
    keyed = identifiers_keyed(site, (IdentifierInput(kind=kind, value=value),))
    identity: tuple[str, str, str] = next(iter(keyed))
    return identity


def patient_for_images(site: Site, meta: InstanceMeta) -> Patient:
    """The patient the images name: found by identifier, or created from the images.

    The birth date is checked by the rule orders are; one the rule refuses (in the future) is
    not stored, the patient's birth date stays unknown: the images are kept whatever their
    header says, and their files keep the header as sent."""
    birth_date = validation.usable_birth_date(meta.birth_date, today=timezone.localdate())
    identity = patient_identity(site, meta.patient_id, meta.issuer_of_patient_id)
    family_name = meta.family_name or "Unknown"
    if identity is None:
        return Patient.objects.create(
            family_name=family_name,
            given_name=meta.given_name,
            birth_date=birth_date,
            sex=meta.sex,
        )
    kind, authority, value = identity
    known = (
        PatientIdentifier.objects.filter(kind=kind, authority=authority, value=value)
        .select_related("patient")
        .first()
    )
    if known is not None:
        # An existing patient keeps the demographics the RIS gave; images do not rewrite them.
        return known.patient
    patient, _changed = patient_resolve_locked(
        site=site,
        patient_in=PatientInput(
            identifiers=(IdentifierInput(kind=kind, value=value, authority=authority),),
            family_name=family_name,
            given_name=meta.given_name or None,
            birth_date=birth_date,
            sex=meta.sex,
        ),
    )
    if patient is None:  # create=True always gives a patient
        raise RuntimeError("patient_resolve_locked returned no patient")
    return patient


def patient_mismatch(study: Study, meta: InstanceMeta) -> str:
    """Why the images' patient is not the study's, or "" if nothing says so."""
    identity = patient_identity(study.site, meta.patient_id, meta.issuer_of_patient_id)
    if identity is None:
        return ""
    kind, authority, value = identity
    rows = PatientIdentifier.objects.filter(kind=kind, authority=authority).filter(
        Q(value=value) | Q(patient_id=study.patient_id)
    )
    known = list(rows.values_list("patient_id", "value"))
    if any(v == value and p != study.patient_id for p, v in known):
        return (
            f"the images of accession {study.accession_number} name patient ID "
            f"{meta.patient_id!r}, which belongs to another patient than the order's"
        )
    if (study.patient_id, value) in known:
        return ""
    theirs = sorted(v for p, v in known if p == study.patient_id)
    if theirs:
        return (
            f"the images of accession {study.accession_number} name patient ID "
            f"{meta.patient_id!r}; the order's patient has {kind} {theirs[0]!r}"
        )
    return ""
