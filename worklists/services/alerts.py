"""Alerts for coordinators: raised by routing escalation, critical findings, DICOM and delivery;
acknowledged and snoozed by coordinators on the console (worklists/console/).

One open alert per study (or patient) and kind, a database rule: raising it again updates the
open alert. Every change writes a CoordinatorAlertEvent, and a change to a study's alert tells
the live pages (worklists/live.py) after commit, so that an alert one coordinator acknowledges
leaves every coordinator's console.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from worklists import live
from worklists.access import is_coordinator
from worklists.actors import Actor
from worklists.errors import Conflict, InvalidInput, NotFound, NotPermitted
from worklists.models import CoordinatorAlert, CoordinatorAlertEvent, Study

ALERT_EVENT = "alert.changed"  # the live event name: the study's alert list changed


class AlertAlreadyResolved(Conflict):
    """Acknowledged or resolved already (by another coordinator, or the condition cleared)."""


class AlertNotFound(NotFound):
    """No such alert, or not one the caller may see."""


class NotACoordinator(NotPermitted):
    """Only coordinators see and act on alerts and the console (403)."""


class SnoozeRefused(InvalidInput):
    """A snooze time in the past, or too far ahead."""

    default_field = "until"


def require_coordinator(user: AbstractBaseUser | AnonymousUser) -> None:
    if not is_coordinator(user):
        raise NotACoordinator(_("Only coordinators see and handle alerts."))


def _tell_pages(alert: CoordinatorAlert) -> None:
    if alert.study_id is not None and alert.site_id is not None:
        live.broadcast_after_commit(
            study_id=alert.study_id, site_id=alert.site_id, event=ALERT_EVENT
        )


def _record(
    alert: CoordinatorAlert,
    action: str,
    *,
    at: dt.datetime,
    actor: Actor | None = None,
    snoozed_until: dt.datetime | None = None,
    note: str = "",
) -> None:
    CoordinatorAlertEvent.objects.create(
        alert=alert,
        action=action,
        at=at,
        actor_id=actor.user_id if actor else None,
        actor_label=actor.label if actor else "",
        snoozed_until=snoozed_until,
        note=note,
    )


def _raised_again(
    alert: CoordinatorAlert, *, message: str, data: dict[str, Any] | None, at: dt.datetime
) -> CoordinatorAlert:
    """The open alert, brought up to date. No event row: a series of 500 mismatched images
    raises the same alert 500 times, and the count on the row says so."""
    changes: dict[str, Any] = {"message": message, "last_raised_at": at}
    if data is not None:
        changes["data"] = data
    CoordinatorAlert.objects.filter(pk=alert.pk).update(raise_count=F("raise_count") + 1, **changes)
    alert.refresh_from_db()
    return alert


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
    patient when ``patient_id`` is given, is updated instead (message, data, last raised, count).
    A snoozed alert stays snoozed: the coordinator chose that time.

    Returns the alert and whether it was created now.
    """
    at = at or timezone.now()
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
            return _raised_again(existing, message=message, data=data, at=at), False
    try:
        with transaction.atomic():
            alert = CoordinatorAlert.objects.create(
                kind=kind,
                study_id=study_id,
                site_id=site_id,
                patient_id=patient_id,
                message=message,
                data=data or {},
                raised_at=at,
                last_raised_at=at,
            )
            _record(alert, CoordinatorAlertEvent.Action.RAISED, at=at)
            _tell_pages(alert)
    except IntegrityError:
        if same is None:
            raise
        # Raised by someone else between our look and our insert: theirs is the alert.
        theirs = CoordinatorAlert.objects.filter(kind=kind, resolved_at__isnull=True, **same).get()
        return _raised_again(theirs, message=message, data=data, at=at), False
    return alert, True


def alert_resolve(*, alert_id: int, actor: Actor, resolution: str = "") -> CoordinatorAlert:
    """Close an open alert (compare-and-set: resolving twice is an error, not a second close)."""
    now = timezone.now()
    with transaction.atomic():
        updated = CoordinatorAlert.objects.filter(pk=alert_id, resolved_at__isnull=True).update(
            resolved_at=now, resolved_by_id=actor.user_id, resolution=resolution
        )
        if not updated:
            raise AlertAlreadyResolved(f"alert {alert_id} is already resolved")
        alert = CoordinatorAlert.objects.get(pk=alert_id)
        _record(alert, CoordinatorAlertEvent.Action.RESOLVED, at=now, actor=actor, note=resolution)
        _tell_pages(alert)
    return alert


def alert_acknowledge(
    *, alert_id: int, user: AbstractBaseUser | AnonymousUser, now: dt.datetime | None = None
) -> CoordinatorAlert:
    """A coordinator has seen the alert and taken it on: it closes (by whom, when) and leaves
    every coordinator's list. If the condition arises again, a new alert is raised."""
    require_coordinator(user)
    now = now or timezone.now()
    actor = Actor.for_user(user)
    with transaction.atomic():
        updated = CoordinatorAlert.objects.filter(pk=alert_id, resolved_at__isnull=True).update(
            resolved_at=now, resolved_by_id=actor.user_id, resolution=CoordinatorAlert.ACKNOWLEDGED
        )
        if not updated:
            if not CoordinatorAlert.objects.filter(pk=alert_id).exists():
                raise AlertNotFound(_("No such alert."))
            raise AlertAlreadyResolved(_("This alert was already acknowledged or resolved."))
        alert = CoordinatorAlert.objects.get(pk=alert_id)
        _record(alert, CoordinatorAlertEvent.Action.ACKNOWLEDGED, at=now, actor=actor)
        _tell_pages(alert)
    return alert


def alert_snooze(
    *,
    alert_id: int,
    user: AbstractBaseUser | AnonymousUser,
    until: dt.datetime,
    now: dt.datetime | None = None,
) -> CoordinatorAlert:
    """Off every coordinator's list until ``until``; it comes back by itself then (the lists
    compare with the time, nothing has to run). Snoozing again replaces the time."""
    require_coordinator(user)
    now = now or timezone.now()
    if until.tzinfo is None:
        raise SnoozeRefused("the snooze time must be timezone-aware")
    if until <= now:
        raise SnoozeRefused(_("Choose a time in the future."))
    longest = dt.timedelta(hours=settings.CONSOLE_SNOOZE_MAX_HOURS)
    if until - now > longest:
        raise SnoozeRefused(
            _("Snooze for at most %(hours)s hours.") % {"hours": settings.CONSOLE_SNOOZE_MAX_HOURS}
        )
    actor = Actor.for_user(user)
    with transaction.atomic():
        updated = CoordinatorAlert.objects.filter(pk=alert_id, resolved_at__isnull=True).update(
            snoozed_until=until, snoozed_by_id=actor.user_id
        )
        if not updated:
            if not CoordinatorAlert.objects.filter(pk=alert_id).exists():
                raise AlertNotFound(_("No such alert."))
            raise AlertAlreadyResolved(_("This alert was already acknowledged or resolved."))
        alert = CoordinatorAlert.objects.get(pk=alert_id)
        _record(
            alert, CoordinatorAlertEvent.Action.SNOOZED, at=now, actor=actor, snoozed_until=until
        )
        _tell_pages(alert)
    return alert


def open_alerts_for_study(study_id: int) -> list[CoordinatorAlert]:
    return list(CoordinatorAlert.objects.filter(study_id=study_id, resolved_at__isnull=True))
