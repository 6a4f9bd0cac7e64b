"""Alerts for coordinators: raised by routing escalation, critical findings, DICOM and delivery."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from worklists.actors import Actor
from worklists.models import CoordinatorAlert, Study


class AlertAlreadyResolved(Exception):
    pass


def alert_raise(
    *,
    kind: str,
    message: str,
    study_id: int | None = None,
    site_id: int | None = None,
    patient_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> tuple[CoordinatorAlert, bool]:
    """Raise an alert; an open alert of the same kind for the same study, or for the same
    patient when ``patient_id`` is given, is returned instead.

    Returns the alert and whether it was created now.
    """
    if study_id is not None and site_id is None:
        site_id = Study.objects.values_list("site_id", flat=True).get(pk=study_id)
    same: dict[str, Any] | None = None
    if patient_id is not None:
        same = {"patient_id": patient_id}
    elif study_id is not None:
        same = {"study_id": study_id}
    if same is not None:
        existing = CoordinatorAlert.objects.filter(
            kind=kind, resolved_at__isnull=True, **same
        ).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            alert = CoordinatorAlert.objects.create(
                kind=kind,
                study_id=study_id,
                site_id=site_id,
                patient_id=patient_id,
                message=message,
                data=data or {},
                raised_at=at or timezone.now(),
            )
    except IntegrityError:
        if same is None:
            raise
        # Raised by someone else between our look and our insert: theirs is the alert.
        theirs = CoordinatorAlert.objects.filter(kind=kind, resolved_at__isnull=True, **same)
        return theirs.get(), False
    return alert, True


def alert_resolve(*, alert_id: int, actor: Actor, resolution: str = "") -> CoordinatorAlert:
    """Close an open alert (compare-and-set: resolving twice is an error, not a second close)."""
    now = timezone.now()
    updated = CoordinatorAlert.objects.filter(pk=alert_id, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by_id=actor.user_id, resolution=resolution
    )
    if not updated:
        raise AlertAlreadyResolved(f"alert {alert_id} is already resolved")
    return CoordinatorAlert.objects.get(pk=alert_id)


def open_alerts_for_study(study_id: int) -> list[CoordinatorAlert]:
    return list(CoordinatorAlert.objects.filter(study_id=study_id, resolved_at__isnull=True))
