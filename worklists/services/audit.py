"""The audit trail of reads of patient data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from teleradiology.client_address import client_address
from worklists import queries, selectors
from worklists.access import studies_of_sites
from worklists.models import AuditEvent, Patient, Study


@dataclass(frozen=True, slots=True)
class AccessContext:
    """Who is reading, through which channel, from where."""

    user_id: int | None
    actor_label: str
    channel: str
    remote_addr: str | None = None
    path: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, *, channel: str) -> AccessContext:
        user = request.user
        return cls(
            user_id=user.pk if user.is_authenticated else None,
            actor_label=user.get_username() if user.is_authenticated else "anonymous",
            channel=channel,
            remote_addr=client_address(request),
            path=request.get_full_path()[:300],
        )


def audit_study_reads(
    *, context: AccessContext, studies: Iterable[Study], action: str, object_type: str = "study"
) -> int:
    """One row per study (or its report: object_type "report") read, in one statement."""
    now = timezone.now()
    rows = [
        AuditEvent(
            at=now,
            actor_id=context.user_id,
            actor_label=context.actor_label,
            action=action,
            object_type=object_type,
            object_id=str(study.id),
            patient_id=study.patient_id,
            site_id=study.site_id,
            channel=context.channel,
            remote_addr=context.remote_addr,
            path=context.path,
        )
        for study in studies
    ]
    if len(rows) == 1:
        # One INSERT on its own: bulk_create wraps even one row in a transaction of its own, a
        # BEGIN and a COMMIT round trip more on every page and API read of one study.
        rows[0].save(force_insert=True)
    else:
        AuditEvent.objects.bulk_create(rows)
    return len(rows)


def study_read(
    *, context: AccessContext, study_id: int, site_ids: set[int] | None, action: str
) -> Study | None:
    """The study read by a person who sees ``site_ids`` (access.visible_site_ids), with its
    site, patient, worklist and the identifiers they may see (``visible_identifiers``), its
    read audited; None, and no audit row, when it is not theirs to see.

    On PostgreSQL one round trip (worklists.queries.study_read_audited: "read next" answers
    with it); elsewhere the ORM, as study_read_by_the_orm."""
    if connection.vendor != "postgresql":
        return study_read_by_the_orm(
            context=context, study_id=study_id, site_ids=site_ids, action=action
        )
    read = queries.study_read_audited(
        study_id=study_id,
        site_ids=site_ids,
        read=queries.AuditedRead(
            user_id=context.user_id,
            actor_label=context.actor_label,
            channel=context.channel,
            remote_addr=context.remote_addr,
            path=context.path,
            action=action,
        ),
        at=timezone.now(),
    )
    if read is None:
        return None
    study, identifiers = read
    study.visible_identifiers = identifiers
    return study


def study_read_by_the_orm(
    *, context: AccessContext, study_id: int, site_ids: set[int] | None, action: str
) -> Study | None:
    """study_read through the scoping function and the ORM: three round trips."""
    try:
        study = (
            studies_of_sites(site_ids)
            .select_related("site", "worklist", "patient", "low_value_rule")
            .get(id=study_id)
        )
    except Study.DoesNotExist:
        return None
    selectors.with_visible_identifiers([study], site_ids)
    audit_study_reads(context=context, studies=[study], action=action)
    return study


def audit_patient_read(*, context: AccessContext, patient: Patient) -> AuditEvent:
    return audit_record_read(
        context=context,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        site_id=None,
    )


def audit_record_read(
    *,
    context: AccessContext,
    object_type: str,
    object_id: int,
    patient_id: int | None,
    site_id: int | None,
) -> AuditEvent:
    """A read of a record that carries patient data without being a study or a report (a raw
    inbound message, a coordinator alert): audited as a view of the patient's data."""
    return AuditEvent.objects.create(
        at=timezone.now(),
        actor_id=context.user_id,
        actor_label=context.actor_label,
        action=AuditEvent.Action.PATIENT_VIEW,
        object_type=object_type,
        object_id=str(object_id),
        patient_id=patient_id,
        site_id=site_id,
        channel=context.channel,
        remote_addr=context.remote_addr,
        path=context.path,
    )


def audit_refused_read(*, context: AccessContext, study_id: int) -> AuditEvent:
    """A read of a study that was refused (no such study, or not the user's to see). The caller
    answers "not found" either way; the audit row names the study's patient and site when the
    study exists, so that a privacy officer sees who tried to open whose data."""
    study = Study.objects.filter(id=study_id).values("patient_id", "site_id").first()
    return AuditEvent.objects.create(
        at=timezone.now(),
        actor_id=context.user_id,
        actor_label=context.actor_label,
        action=AuditEvent.Action.STUDY_REFUSED,
        object_type="study",
        object_id=str(study_id),
        patient_id=study["patient_id"] if study else None,
        site_id=study["site_id"] if study else None,
        channel=context.channel,
        remote_addr=context.remote_addr,
        path=context.path,
    )


@dataclass(frozen=True, slots=True)
class ListedRecord:
    """One row of an admin list page that shows patient data."""

    object_type: str
    object_id: int
    patient_id: int | None
    site_id: int | None


def audit_list_reads(*, context: AccessContext, records: Iterable[ListedRecord]) -> int:
    """One row per record shown on an admin list page (names on a list are a read too)."""
    now = timezone.now()
    rows = [
        AuditEvent(
            at=now,
            actor_id=context.user_id,
            actor_label=context.actor_label,
            action=AuditEvent.Action.PATIENT_LIST,
            object_type=record.object_type,
            object_id=str(record.object_id),
            patient_id=record.patient_id,
            site_id=record.site_id,
            channel=context.channel,
            remote_addr=context.remote_addr,
            path=context.path,
        )
        for record in records
    ]
    AuditEvent.objects.bulk_create(rows)
    return len(rows)


def audit_trail_read(*, context: AccessContext, what: str, patient_id: int | None = None) -> None:
    """A read of the audit trail itself (the audit admin, the privacy page, its CSV): who
    looked at who looked, and at what (``what``: the query, in short)."""
    AuditEvent.objects.create(
        at=timezone.now(),
        actor_id=context.user_id,
        actor_label=context.actor_label,
        action=AuditEvent.Action.AUDIT_VIEW,
        object_type="audit",
        object_id=what[:64],
        patient_id=patient_id,
        site_id=None,
        channel=context.channel,
        remote_addr=context.remote_addr,
        path=context.path,
    )
