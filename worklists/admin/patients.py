"""Patients, studies, their assignments and the inbound messages that carry them: scoped to
what the user may see, read-only, each view audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from worklists.access import (
    identifiers_visible,
    is_coordinator,
    patients_visible_to,
    sites_visible_to,
    studies_visible_to,
    visible_site_ids,
)
from worklists.admin.patient_data import PatientDataAdmin
from worklists.models import (
    Assignment,
    AuditEvent,
    InboundMessage,
    Patient,
    PatientIdentifier,
    Study,
    StudyEvent,
)
from worklists.services.audit import (
    AccessContext,
    audit_patient_read,
    audit_record_read,
    audit_study_reads,
)


class PatientIdentifierInline(admin.TabularInline):
    model = PatientIdentifier
    extra = 0
    fields = ("kind", "authority", "value")
    readonly_fields = ("kind", "authority", "value")
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[PatientIdentifier]:
        # National numbers and the numbers of the sites this user sees, not other hospitals'.
        return (
            super()
            .get_queryset(request)
            .filter(identifiers_visible(visible_site_ids(request.user)))
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(PatientDataAdmin):
    list_display = ["family_name", "given_name", "birth_date", "sex"]
    search_fields = ["family_name", "given_name", "identifiers__value"]
    inlines = [PatientIdentifierInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        return patients_visible_to(request.user)

    def audit_view(self, request: HttpRequest, obj: Patient) -> None:
        audit_patient_read(
            context=AccessContext.from_request(request, channel="admin"), patient=obj
        )


class StudyEventInline(admin.TabularInline):
    model = StudyEvent
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor_label", "reason", "data")
    readonly_fields = ("at", "from_status", "to_status", "actor_label", "reason", "data")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Study)
class StudyAdmin(PatientDataAdmin):
    list_display = [
        "accession_number",
        "site",
        "modality",
        "procedure_text",
        "priority",
        "status",
        "worklist",
        "is_unclassified",
        "deadline",
    ]
    list_filter = ["status", "priority", "modality", "worklist", "is_unclassified", "site"]
    search_fields = ["accession_number", "study_instance_uid", "procedure_text"]
    inlines = [StudyEventInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Study]:
        return studies_visible_to(request.user).select_related("site", "worklist")

    def audit_view(self, request: HttpRequest, obj: Study) -> None:
        audit_study_reads(
            context=AccessContext.from_request(request, channel="admin"),
            studies=[obj],
            action=AuditEvent.Action.STUDY_VIEW,
        )


@admin.register(Assignment)
class AssignmentAdmin(PatientDataAdmin):
    list_display = ["study", "radiologist", "kind", "assigned_at", "ended_at", "end_reason"]
    list_filter = ["kind"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Assignment]:
        visible = studies_visible_to(request.user)
        return Assignment.objects.filter(study__in=visible).select_related("study", "radiologist")

    def audit_view(self, request: HttpRequest, obj: Assignment) -> None:
        audit_study_reads(
            context=AccessContext.from_request(request, channel="admin"),
            studies=[obj.study],
            action=AuditEvent.Action.STUDY_VIEW,
        )


@admin.register(InboundMessage)
class InboundMessageAdmin(PatientDataAdmin):
    """Raw inbound messages carry patient data: scoped by site, each view audited. Messages from
    unknown senders (no site) are for coordinators only. The HL7 interface replaces this admin
    with a subclass that adds its reprocess action (hl7_interface.admin)."""

    list_display = ["received_at", "channel", "site", "message_type", "status", "error"]
    list_filter = ["channel", "status", "site"]
    readonly_fields = [f.name for f in InboundMessage._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMessage]:
        messages = super().get_queryset(request).select_related("site", "study")
        if is_coordinator(request.user):
            return messages
        return messages.filter(site__in=sites_visible_to(request.user))

    def audit_view(self, request: HttpRequest, obj: InboundMessage) -> None:
        audit_record_read(
            context=AccessContext.from_request(request, channel="admin"),
            object_type="inbound_message",
            object_id=obj.pk,
            patient_id=obj.study.patient_id if obj.study else None,
            site_id=obj.site_id,
        )
