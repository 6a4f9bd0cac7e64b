"""Study assembly: every received instance updates its study, in one short transaction.

Matching: site + accession number, else site + StudyInstanceUID, else a new study in ORDERED
flagged "images without order". Lock order everywhere in this app: the Study row first, then
its StudyImages row (the lifecycle services and order ingest lock the Study row too).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists
from django.utils import timezone

from dicom.metadata import InstanceMeta
from dicom.models import DicomInstance, DicomSeries, FailedInstance, StudyImages
from dicom.queries import fast_path_enabled, receive_known_series
from dicom.services.associations import SiteContext
from dicom.services.identity import patient_for_images, patient_mismatch
from worklists import live
from worklists.actors import Actor
from worklists.lifecycle import is_allowed
from worklists.models import (
    Modality,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.services.alerts import alert_raise
from worklists.services.orders import accession_for_study_uid
from worklists.services.patient_identifiers import ConcurrentCreate
from worklists.services.studies import study_hold

logger = logging.getLogger(__name__)

PATIENT_MISMATCH_ALERT = "dicom.patient_mismatch"
# Modalities that say little about what was examined: a study takes its modality from the
# first instance that is an image of the patient, if there is one.
_NON_IMAGING = frozenset({"SR", "OT", "PR", "KO", "DOC", "SEG", "REG"})


class ReceiveOutcome(enum.StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    study_id: int
    outcome: ReceiveOutcome
    created_study: bool = False
    late: bool = False
    patient_mismatch: str = ""


class ReceiveConflict(Exception):
    """The instance kept colliding with concurrent creations of its study."""


def _actor(context: SiteContext) -> Actor:
    return Actor.system(f"dicom:{context.calling_ae_title}")


def _accession_for(meta: InstanceMeta) -> str:
    if meta.accession_number:
        return meta.accession_number
    # No accession number: one derived from the StudyInstanceUID, so concurrent associations
    # sending the same study collide on the unique key instead of creating two studies.
    return accession_for_study_uid(meta.study_instance_uid)


def _study_modality(meta: InstanceMeta) -> str:
    candidates = [meta.modality, *meta.modalities_in_study]
    imaging = [m for m in candidates if m and m not in _NON_IMAGING]
    for modality in imaging or candidates:
        if modality in Modality.values:
            return modality
    return Modality.OT.value


def _procedure_text(meta: InstanceMeta) -> str:
    if meta.study_description:
        return meta.study_description
    if meta.procedure_codes and meta.procedure_codes[0].meaning:
        return meta.procedure_codes[0].meaning
    return f"{meta.modality or 'DICOM'} images without order"


def _create_study(
    *, site: Site, meta: InstanceMeta, context: SiteContext, now: dt.datetime
) -> Study:
    patient = patient_for_images(site, meta)
    code = meta.procedure_codes[0] if meta.procedure_codes else None
    study_at = meta.study_datetime(site.zone)
    study = Study(
        site=site,
        accession_number=_accession_for(meta),
        study_instance_uid=meta.study_instance_uid,
        patient=patient,
        modality=_study_modality(meta),
        body_part=meta.body_part,
        procedure_code=code.code if code else "",
        procedure_coding_system=code.scheme[:32] if code else "",
        procedure_text=_procedure_text(meta)[:300],
        ordered_at=min(study_at, now) if study_at else now,
        status=StudyStatus.ORDERED,
        status_changed_at=now,
    )
    try:
        with transaction.atomic():
            study.save()
    except IntegrityError as exc:
        # Another association created this study an instant ago: the retry finds it.
        raise ConcurrentCreate from exc
    actor = _actor(context)
    StudyEvent.objects.create(
        study=study,
        from_status="",
        to_status=StudyStatus.ORDERED,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=now,
        reason="images received without an order",
        data={"study_instance_uid": meta.study_instance_uid},
    )
    live.broadcast_after_commit(
        study_id=study.id, site_id=study.site_id, event="study.created", status=study.status
    )
    return study


def _find_study_locked(*, site_id: int, meta: InstanceMeta) -> Study | None:
    studies = Study.objects.select_for_update(of=("self",)).select_related("site")
    if meta.accession_number:
        study = studies.filter(site_id=site_id, accession_number=meta.accession_number).first()
        if study is not None:
            return study
    return studies.filter(site_id=site_id, study_instance_uid=meta.study_instance_uid).first()


def _new_images(
    study: Study, meta: InstanceMeta, *, created: bool, now: dt.datetime
) -> StudyImages:
    return StudyImages(
        study=study,
        study_instance_uid=meta.study_instance_uid,
        first_instance_at=now,
        last_instance_at=now,
        images_without_order=created,
        patient_id=meta.patient_id,
        issuer_of_patient_id=meta.issuer_of_patient_id,
        body_part=meta.body_part,
        description=meta.study_description,
        institution=meta.institution,
        procedure_codes=[
            {"code": c.code, "scheme": c.scheme, "meaning": c.meaning} for c in meta.procedure_codes
        ],
    )


def _fill_blanks(images: StudyImages, meta: InstanceMeta) -> list[str]:
    """Study-level attributes the first instances left empty, from this one."""
    changed = []
    for name, value in (
        ("body_part", meta.body_part),
        ("description", meta.study_description),
        ("institution", meta.institution),
    ):
        if value and not getattr(images, name):
            setattr(images, name, value)
            changed.append(name)
    if meta.procedure_codes and not images.procedure_codes:
        images.procedure_codes = [
            {"code": c.code, "scheme": c.scheme, "meaning": c.meaning} for c in meta.procedure_codes
        ]
        changed.append("procedure_codes")
    new_modalities = [
        m for m in (meta.modality, *meta.modalities_in_study) if m and m not in images.modalities
    ]
    if new_modalities:
        images.modalities = [*images.modalities, *dict.fromkeys(new_modalities)]
        changed.append("modalities")
    return changed


def _hold_for_mismatch(study: Study, *, reason: str, meta: InstanceMeta, actor: Actor) -> None:
    if is_allowed(study.status, StudyStatus.ON_HOLD):
        study_hold(study_id=study.id, actor=actor, reason=f"patient mismatch: {reason}")
    alert_raise(
        kind=PATIENT_MISMATCH_ALERT,
        message=reason,
        study_id=study.id,
        site_id=study.site_id,
        data={
            "patient_id": meta.patient_id,
            "issuer_of_patient_id": meta.issuer_of_patient_id,
            "study_instance_uid": meta.study_instance_uid,
            "study_patient_id": study.patient_id,
        },
    )


def _late_images_arrived(*, study_id: int, site_id: int, at: dt.datetime, status: str = "") -> None:
    """Images after the study went to the readers: the pages show it live, and a page that
    was disconnected finds the study among those changed (``updated_at``) when it resyncs."""
    Study.objects.filter(id=study_id).update(updated_at=at)
    live.broadcast_after_commit(
        study_id=study_id, site_id=site_id, event="study.images", status=status
    )


@transaction.atomic
def _receive_once(
    *, context: SiteContext, meta: InstanceMeta, received_at: dt.datetime, storage_path: str
) -> ReceiveResult:
    fast = (
        receive_known_series(
            site_id=context.site_id,
            meta=meta,
            received_at=received_at,
            storage_path=storage_path,
            calling=context.calling_ae_title,
        )
        if fast_path_enabled()
        else None
    )
    if fast is not None:
        if fast.late and fast.stored:
            _late_images_arrived(study_id=fast.study_id, site_id=context.site_id, at=received_at)
        outcome = ReceiveOutcome.STORED if fast.stored else ReceiveOutcome.DUPLICATE
        return ReceiveResult(study_id=fast.study_id, outcome=outcome, late=fast.late)
    study = _find_study_locked(site_id=context.site_id, meta=meta)
    created = study is None
    if study is None:
        site = Site.objects.get(id=context.site_id)
        study = _create_study(site=site, meta=meta, context=context, now=received_at)
    # Read after the study lock is held, in its own statement: a row joined into the locking
    # query would be the snapshot from before the wait (PostgreSQL re-checks only the locked
    # row), and counts computed from it would lose the other association's instances.
    images = None if created else StudyImages.objects.filter(study=study).first()

    mismatch = ""
    series: DicomSeries | None = None
    changed: list[str] = []
    if images is None:
        images = _new_images(study, meta, created=created, now=received_at)
        _fill_blanks(images, meta)
        images.save()
        if not created:
            mismatch = patient_mismatch(study, meta)
            if not study.study_instance_uid:
                # The viewer link needs the UID; an order that did not carry it gets it here.
                study.study_instance_uid = meta.study_instance_uid
                study.save(update_fields=["study_instance_uid", "updated_at"])
        duplicate = False
    else:
        if (meta.patient_id, meta.issuer_of_patient_id) != (
            images.patient_id,
            images.issuer_of_patient_id,
        ):
            mismatch = (
                f"instances of accession {study.accession_number} name different patients: "
                f"{images.patient_id!r} and {meta.patient_id!r}"
            )
        same_instance = DicomInstance.objects.filter(
            images=images, sop_instance_uid=meta.sop_instance_uid
        )
        series = (
            DicomSeries.objects.filter(images=images, series_instance_uid=meta.series_instance_uid)
            .annotate(duplicate=Exists(same_instance))
            .first()
        )
        # A new series is rare: only then a second look for the instance in another series.
        duplicate = bool(series.duplicate) if series is not None else same_instance.exists()
        changed = _fill_blanks(images, meta)
    if duplicate:
        # The same instance sent again (a retry, a re-send of the study): counted once.
        return ReceiveResult(study_id=study.id, outcome=ReceiveOutcome.DUPLICATE)

    new_series = series is None
    if series is None:
        series = DicomSeries.objects.create(
            images=images,
            series_instance_uid=meta.series_instance_uid,
            modality=meta.modality,
            series_number=meta.series_number,
            description=meta.series_description,
            body_part=meta.body_part,
            first_instance_at=received_at,
        )
    late = study.ready_at is not None
    DicomInstance.objects.create(
        images=images,
        series=series,
        sop_instance_uid=meta.sop_instance_uid,
        sop_class_uid=meta.sop_class_uid,
        transfer_syntax_uid=meta.transfer_syntax_uid,
        received_at=received_at,
        calling_ae_title=context.calling_ae_title,
        is_late=late,
        storage_path=storage_path,
    )
    images.instance_count += 1
    images.series_count += int(new_series)
    images.last_instance_at = max(images.last_instance_at, received_at)
    changed += ["instance_count", "series_count", "last_instance_at"]
    if late:
        images.late_instance_count += 1
        images.last_late_at = received_at
        changed += ["late_instance_count", "last_late_at"]
    elif images.complete:
        # More images before the study was opened: it waits for another quiet period.
        images.complete = False
        images.completed_at = None
        changed += ["complete", "completed_at"]
    first_mismatch = bool(mismatch) and not images.patient_mismatch
    if first_mismatch:
        images.patient_mismatch = True
        changed.append("patient_mismatch")
    images.save(update_fields=changed)

    if first_mismatch:
        logger.warning("DICOM patient mismatch on study %s: %s", study.id, mismatch)
        _hold_for_mismatch(study, reason=mismatch, meta=meta, actor=_actor(context))
    if late:
        _late_images_arrived(
            study_id=study.id, site_id=study.site_id, at=received_at, status=study.status
        )
    return ReceiveResult(
        study_id=study.id,
        outcome=ReceiveOutcome.STORED,
        created_study=created,
        late=late,
        patient_mismatch=mismatch,
    )


def instance_receive(
    *,
    context: SiteContext,
    meta: InstanceMeta,
    received_at: dt.datetime | None = None,
    storage_path: str = "",
) -> ReceiveResult:
    """Record one received instance on its study (creating the study if it has none)."""
    at = received_at or timezone.now()
    for _attempt in range(3):
        try:
            return _receive_once(
                context=context, meta=meta, received_at=at, storage_path=storage_path
            )
        except ConcurrentCreate:
            continue
    raise ReceiveConflict(
        f"study {meta.study_instance_uid} kept colliding with a concurrent creation"
    )


def instance_reject(
    *,
    context: SiteContext | None,
    status: int,
    error: str,
    sop_class_uid: str,
    sop_instance_uid: str,
    raw: bytes,
    calling_ae_title: str = "",
    peer_address: str = "",
) -> FailedInstance:
    """Keep an instance we answered with a failure status with the reason: its bytes whole when
    smaller than DICOM_FAILED_INSTANCE_KEEP_WHOLE_BYTES, else only its head (a sender cannot
    fill the database with refused instances)."""
    kept = raw
    if len(raw) >= settings.DICOM_FAILED_INSTANCE_KEEP_WHOLE_BYTES:
        kept = raw[: settings.DICOM_FAILED_INSTANCE_HEAD_BYTES]
        error = f"{error} (only the first {len(kept)} of its {len(raw)} bytes are kept)"
    return FailedInstance.objects.create(
        received_at=timezone.now(),
        site_id=context.site_id if context else None,
        calling_ae_title=(context.calling_ae_title if context else calling_ae_title)[:16],
        peer_address=(context.peer_address if context else peer_address)[:64],
        sop_class_uid=sop_class_uid[:64],
        sop_instance_uid=sop_instance_uid[:64],
        status=status,
        error=error,
        raw=kept,
        raw_size=len(raw),
    )
