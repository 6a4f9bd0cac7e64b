"""Each site's record of a patient: what a site states is written into its own record (the
patient row for its home site, a ``PatientRecord`` for any other), and a coordinator is alerted
when records contradict each other.
"""

from __future__ import annotations

from typing import Any

from worklists.models import Patient, PatientIdentifier, PatientRecord, Sex, Site, Study
from worklists.services.alerts import alert_raise
from worklists.services.patient_identifiers import PatientInput

DEMOGRAPHICS = ("family_name", "given_name", "birth_date", "sex")

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


def settle_records(patient: Patient, records: list[PatientRecord], *, site: Site) -> None:
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


def record_site_demographics(
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
                settle_records(
                    patient, list(PatientRecord.objects.filter(patient=patient)), site=site
                )
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
        settle_records(patient, records, site=site)
    return changed


def site_holds_patient(*, patient: Patient, site_id: int) -> bool:
    """Whether the site has a record of the patient: its home site, or a site with a record."""
    return (
        patient.home_site_id == site_id
        or PatientRecord.objects.filter(
            patient=patient, site_id=site_id, source=PatientRecord.Source.SITE
        ).exists()
    )


def held_by_another_site(patient_id: int, site: Site) -> bool:
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
