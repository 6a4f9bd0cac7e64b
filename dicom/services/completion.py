"""When a study's images are complete, and what that opens.

Completeness is derived from stored times only (no timer in any process): a study whose last
instance is older than DICOM_QUIET_SECONDS and is not yet complete is found by the periodic
sweep, whichever worker runs it and however often the receiver or the workers restarted.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dicom.models import DicomSiteSettings, StudyImages
from dicom.services.instances import PATIENT_MISMATCH_ALERT
from worklists.actors import Actor
from worklists.lifecycle import is_allowed
from worklists.models import Study, StudyStatus
from worklists.services.alerts import alert_raise
from worklists.services.studies import study_hold, study_mark_ready_locked

ACTOR = Actor.system("dicom")
SWEEP_LIMIT = 500


def quiet_period() -> dt.timedelta:
    return dt.timedelta(seconds=settings.DICOM_QUIET_SECONDS)


def _may_open(study: Study, images: StudyImages) -> bool:
    """Images complete open the study if it has an order, or its site sends images only."""
    if not images.images_without_order or images.order_arrived_at is not None:
        return True
    return DicomSiteSettings.objects.filter(site_id=study.site_id, images_only=True).exists()


@transaction.atomic
def study_images_complete(*, study_id: int, now: dt.datetime | None = None) -> bool:
    """Mark the images of ``study_id`` complete if they have been quiet long enough, and open
    the study for reading if it may be. Idempotent: returns False if there was nothing to do."""
    now = now or timezone.now()
    study = Study.objects.select_for_update(of=("self",)).select_related("site").get(id=study_id)
    images = StudyImages.objects.select_for_update().get(study_id=study_id)
    if images.complete or images.last_instance_at > now - quiet_period():
        return False
    images.complete = True
    images.completed_at = now
    images.save(update_fields=["complete", "completed_at"])
    if study.status == StudyStatus.ORDERED and _may_open(study, images):
        study_mark_ready_locked(study, actor=ACTOR, at=now)
    elif (
        study.status == StudyStatus.ON_HOLD
        and study.ready_at is None
        and not study.images_available
        and _may_open(study, images)
    ):
        # Held before it was ever ready: remembered, so releasing the hold opens it.
        study.images_available = True
        study.save(update_fields=["images_available", "updated_at"])
    return True


def study_images_complete_quiet(*, now: dt.datetime | None = None) -> list[int]:
    """The periodic sweep: complete every study quiet for the quiet period. Returns their ids."""
    now = now or timezone.now()
    due = (
        StudyImages.objects.filter(complete=False, last_instance_at__lte=now - quiet_period())
        .order_by("last_instance_at")
        .values_list("study_id", flat=True)[:SWEEP_LIMIT]
    )
    # One transaction per study: a failure in one leaves the others done.
    return [study_id for study_id in list(due) if study_images_complete(study_id=study_id, now=now)]


def study_images_order_arrived_locked(study: Study, *, actor: Actor, at: dt.datetime) -> bool:
    """An order arrived for ``study`` (the caller owns the transaction and has locked the study
    row): images that came first and are complete open it now. Returns whether it became READY.
    """
    images = StudyImages.objects.select_for_update().filter(study_id=study.id).first()
    if images is None:
        return False
    if images.images_without_order and images.order_arrived_at is None:
        images.order_arrived_at = at
        images.save(update_fields=["order_arrived_at"])
    if images.complete and study.status == StudyStatus.ORDERED:
        study_mark_ready_locked(study, actor=actor, at=at)
        return True
    return False


def study_images_order_patient_mismatch_locked(study: Study, *, at: dt.datetime) -> str:
    """The first order of a study created from its images names another patient than the
    images (the caller owns the transaction and has locked the study row). The order is
    applied; the images' patient is never merged into the order's silently: the caller
    gives the study the order's patient, then ``study_hold_for_order_mismatch_locked``.

    Returns why (the hold's reason), or "" if the study did not come from images awaiting
    their order: then the patient is the order's own, and changing it is a merge.
    """
    images = StudyImages.objects.select_for_update().filter(study_id=study.id).first()
    if images is None or not images.images_without_order or images.order_arrived_at is not None:
        return ""
    images.order_arrived_at = at
    images.patient_mismatch = True
    images.save(update_fields=["order_arrived_at", "patient_mismatch"])
    shown = f"patient ID {images.patient_id!r}" if images.patient_id else "no patient ID"
    return (
        f"the order of accession {study.accession_number} names another patient than its "
        f"images ({shown}, received before the order)"
    )


def study_hold_for_order_mismatch_locked(
    study: Study, *, reason: str, images_patient_id: int, actor: Actor, at: dt.datetime
) -> None:
    """Hold ``study`` (locked by the caller) for the coordinator and raise the patient-mismatch
    alert; complete images are remembered, so releasing the hold opens it."""
    if is_allowed(study.status, StudyStatus.ON_HOLD):
        study_hold(study_id=study.id, actor=actor, reason=f"patient mismatch: {reason}")
        study.refresh_from_db(fields=["status", "status_changed_at", "updated_at"])
    images = StudyImages.objects.filter(study_id=study.id).first()
    if (
        images is not None
        and images.complete
        and study.ready_at is None
        and not study.images_available
    ):
        study.images_available = True
        study.save(update_fields=["images_available", "updated_at"])
    alert_raise(
        kind=PATIENT_MISMATCH_ALERT,
        message=reason,
        study_id=study.id,
        site_id=study.site_id,
        at=at,
        data={
            "patient_id": images.patient_id if images else "",
            "issuer_of_patient_id": images.issuer_of_patient_id if images else "",
            "study_instance_uid": images.study_instance_uid if images else "",
            "images_patient_id": images_patient_id,
            "study_patient_id": study.patient_id,
        },
    )
