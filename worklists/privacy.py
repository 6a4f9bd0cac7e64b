"""The privacy officer's view of the audit trail: who opened which patient's data, when, from
where and in which role, with unusual access flagged. Reads only; the page and its CSV export
both come from ``access_report`` so that they cannot differ."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet
from django.utils import timezone

from worklists.access import (
    COORDINATORS_GROUP,
    PRIVACY_PERMISSION,
    AnyUser,
    is_privacy_officer,
)
from worklists.errors import NotPermitted
from worklists.models import (
    Assignment,
    AuditEvent,
    Competence,
    Patient,
    PatientIdentifier,
    Radiologist,
    SiteMembership,
    Study,
)

# Opening a record, as against seeing it as a line of a list.
OPENING_ACTIONS = (
    AuditEvent.Action.STUDY_VIEW,
    AuditEvent.Action.REPORT_VIEW,
    AuditEvent.Action.PATIENT_VIEW,
)
READER_OUTSIDE_QUEUE = "reader outside queue"
MANY_PATIENTS = "many patients"
REPORT_MAX_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class AccessQuery:
    """What the privacy officer asks: whose data (a patient), whose access (a user), when."""

    start: dt.datetime
    end: dt.datetime
    patient_ids: frozenset[int] | None = None  # None: every patient
    username: str = ""
    flagged_only: bool = False

    def describe(self) -> str:
        parts = [f"{self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}"]
        if self.patient_ids is not None:
            parts.append("patient " + ",".join(str(p) for p in sorted(self.patient_ids)))
        if self.username:
            parts.append(f"user {self.username}")
        if self.flagged_only:
            parts.append("flagged")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class AccessRow:
    event: AuditEvent
    role: str
    flags: tuple[str, ...]


@dataclass(slots=True)
class AccessReport:
    rows: list[AccessRow]
    truncated: bool
    # Site users over the threshold in the period: (username, distinct patients opened)
    heavy_users: list[tuple[str, int]] = field(default_factory=list)


class NotPrivacyOfficer(NotPermitted):
    """The audit trail is for privacy officers (being a coordinator does not grant it)."""


def _require_privacy_officer(reader: AnyUser) -> None:
    if not is_privacy_officer(reader):
        raise NotPrivacyOfficer("The privacy page is for privacy officers.")


def patients_matching(term: str, *, reader: AnyUser) -> frozenset[int]:
    """The patients a privacy officer's search names: ``id:<n>`` or a number a patient holds
    (national or record number). Only a privacy officer (``reader``) may search."""
    _require_privacy_officer(reader)
    term = term.strip()
    if term.lower().startswith("id:") and term[3:].strip().isdigit():
        wanted = int(term[3:].strip())
        return frozenset(Patient.objects.filter(id=wanted).values_list("id", flat=True))
    return frozenset(
        PatientIdentifier.objects.filter(value=term).values_list("patient_id", flat=True)
    )


def _events(query: AccessQuery) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(at__gte=query.start, at__lt=query.end)
    if query.patient_ids is not None:
        events = events.filter(patient_id__in=query.patient_ids)
    if query.username:
        events = events.filter(actor_label=query.username)
    return events.select_related("patient", "site").order_by("-at", "-id")


def roles_of(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Each user's role, as the audit trail's reader needs it (the role held now)."""
    ids = {i for i in user_ids if i is not None}
    users = get_user_model().objects.filter(id__in=ids)
    superusers = set(users.filter(is_superuser=True).values_list("id", flat=True))
    coordinators = set(
        Group.objects.filter(name=COORDINATORS_GROUP, user__id__in=ids).values_list(
            "user__id", flat=True
        )
    )
    app_label, codename = PRIVACY_PERMISSION.split(".")
    privacy = set(
        users.filter(
            Q(
                user_permissions__codename=codename,
                user_permissions__content_type__app_label=app_label,
            )
            | Q(
                groups__permissions__codename=codename,
                groups__permissions__content_type__app_label=app_label,
            )
        ).values_list("id", flat=True)
    )
    radiologists = set(
        Radiologist.objects.filter(user_id__in=ids, is_active=True).values_list(
            "user_id", flat=True
        )
    )
    members = set(SiteMembership.objects.filter(user_id__in=ids).values_list("user_id", flat=True))
    roles = {}
    for user_id in ids:
        held = [
            name
            for name, holders in (
                ("administrator", superusers),
                ("coordinator", coordinators),
                ("privacy officer", privacy),
                ("radiologist", radiologists),
                ("site user", members),
            )
            if user_id in holders
        ]
        roles[user_id] = ", ".join(held) or "no role"
    return roles


def _readers_outside_queue(events: list[AuditEvent]) -> set[int]:
    """Ids of the events where a radiologist opened a study that was never in their hands (no
    assignment, push, claim or coordinator's), of a patient none of whose studies was, and of a
    worklist they are not competent to read: neither their queue nor a prior of it."""
    openings = [
        e
        for e in events
        if e.action in (AuditEvent.Action.STUDY_VIEW, AuditEvent.Action.REPORT_VIEW)
        and e.actor_id is not None
        and e.object_id.isdigit()
    ]
    if not openings:
        return set()
    radiologist_of = dict(
        Radiologist.objects.filter(user_id__in={e.actor_id for e in openings}).values_list(
            "user_id", "id"
        )
    )
    openings = [e for e in openings if e.actor_id in radiologist_of]
    if not openings:
        return set()
    readers = set(radiologist_of.values())
    studies = {
        study_id: (patient_id, worklist_id)
        for study_id, patient_id, worklist_id in Study.objects.filter(
            id__in={int(e.object_id) for e in openings}
        ).values_list("id", "patient_id", "worklist_id")
    }
    patient_ids = {patient_id for patient_id, _worklist in studies.values()}
    held_studies: set[tuple[int, int]] = set()
    held_patients: set[tuple[int, int]] = set()
    for radiologist_id, study_id, patient_id in Assignment.objects.filter(
        radiologist_id__in=readers, study__patient_id__in=patient_ids
    ).values_list("radiologist_id", "study_id", "study__patient_id"):
        held_studies.add((radiologist_id, study_id))
        held_patients.add((radiologist_id, patient_id))
    competent: dict[int, set[int]] = defaultdict(set)
    for radiologist_id, worklist_id in Competence.objects.filter(
        radiologist_id__in=readers
    ).values_list("radiologist_id", "worklist_id"):
        competent[radiologist_id].add(worklist_id)
    flagged = set()
    for event in openings:
        study = studies.get(int(event.object_id))
        if study is None:
            continue
        patient_id, worklist_id = study
        reader = radiologist_of[event.actor_id or 0]
        in_hands = (reader, int(event.object_id)) in held_studies
        in_hands = in_hands or (reader, patient_id) in held_patients
        in_queue = worklist_id is not None and worklist_id in competent[reader]
        if not in_hands and not in_queue:
            flagged.add(event.id)
    return flagged


def _heavy_site_users(query: AccessQuery, roles: dict[int, str]) -> dict[int, int]:
    """Site users (not radiologists, coordinators or administrators) who opened more distinct
    patients in the period than the threshold: user id -> how many."""
    threshold = settings.PRIVACY_MANY_PATIENTS_THRESHOLD
    members = set(SiteMembership.objects.values_list("user_id", flat=True).distinct())
    opened = (
        AuditEvent.objects.filter(
            at__gte=query.start,
            at__lt=query.end,
            action__in=OPENING_ACTIONS,
            actor_id__in=members,
            patient_id__isnull=False,
        )
        .values_list("actor_id", "patient_id")
        .distinct()
    )
    counts: dict[int, int] = defaultdict(int)
    for actor_id, _patient_id in opened:
        if actor_id is not None:
            counts[actor_id] += 1
    heavy = {user_id: n for user_id, n in counts.items() if n > threshold}
    if not heavy:
        return {}
    more_than_site = {
        user_id
        for user_id, role in roles_of(heavy).items()
        if {"radiologist", "coordinator", "administrator"} & set(role.split(", "))
    }
    return {user_id: n for user_id, n in heavy.items() if user_id not in more_than_site}


def access_report(
    query: AccessQuery, *, reader: AnyUser, max_rows: int = REPORT_MAX_ROWS
) -> AccessReport:
    """The audit rows the query names, newest first, each with its actor's role and flags.
    Only a privacy officer (``reader``) may read them: NotPrivacyOfficer otherwise."""
    _require_privacy_officer(reader)
    events = list(_events(query)[: max_rows + 1])
    truncated = len(events) > max_rows
    events = events[:max_rows]
    roles = roles_of(e.actor_id for e in events)
    outside = _readers_outside_queue(events)
    heavy = _heavy_site_users(query, roles)
    rows = []
    for event in events:
        flags = []
        if event.id in outside:
            flags.append(READER_OUTSIDE_QUEUE)
        if event.actor_id in heavy and event.action in OPENING_ACTIONS:
            flags.append(MANY_PATIENTS)
        if query.flagged_only and not flags:
            continue
        rows.append(
            AccessRow(
                event=event,
                role=roles.get(event.actor_id, "site integration") if event.actor_id else "no user",
                flags=tuple(flags),
            )
        )
    labels = dict(get_user_model().objects.filter(id__in=heavy).values_list("id", "username"))
    heavy_users = sorted(
        ((labels.get(u, str(u)), n) for u, n in heavy.items()), key=lambda x: -x[1]
    )
    return AccessReport(rows=rows, truncated=truncated, heavy_users=heavy_users)


def default_period(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """Seven days: today and the six before it (local time)."""
    today = timezone.localdate(now or timezone.now())
    end = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time()))
    return end - dt.timedelta(days=7), end
