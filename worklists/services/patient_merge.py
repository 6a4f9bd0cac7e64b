"""Patient merges (ADT^A40): the prior patient's studies, identifiers and site records move to
the survivor, in the lock order of ``patients``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from worklists import live, validation
from worklists.actors import Actor
from worklists.models import Patient, PatientIdentifier, PatientRecord, Site, Study, StudyEvent
from worklists.services.patient_identifiers import (
    ConcurrentCreate,
    IdentifierInput,
    PatientConflict,
    PatientError,
    PatientInput,
    PatientNotFound,
    add_identifiers,
    by_key,
    identifiers_keyed,
    lock_identifiers,
    retrying,
)
from worklists.services.patient_records import (
    held_by_another_site,
    record_site_demographics,
    settle_records,
)
from worklists.services.patients import PatientChange


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
            PatientIdentifier.objects.filter(by_key(wanted_prior)).values_list(
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
        rows = lock_identifiers(wanted_surviving | wanted_prior, of_patients=expected_prior)
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
        if (survivor_id != prior_id or adds_national) and held_by_another_site(prior_id, site):
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
        add_identifiers(survivor, new_identifiers)
        changed = record_site_demographics(patient=survivor, site=site, patient_in=surviving)
        if survivor_id != prior_id and not changed:
            settle_records(survivor, list(survivor.records.order_by("id")), site=site)
        if new_identifiers:
            changed.append("identifiers")
        if moved:
            changed.append("studies")
        return PatientChange(
            patient_id=survivor.id,
            changed_fields=[f"patient.{name}" for name in changed],
            moved_study_ids=moved,
        )

    return retrying(once)


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
