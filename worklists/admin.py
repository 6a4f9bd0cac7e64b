from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from worklists.access import studies_visible_to
from worklists.models import (
    Assignment,
    AuditEvent,
    ClassificationRule,
    Competence,
    Credential,
    DeadlineContract,
    InboundMessage,
    Patient,
    PatientIdentifier,
    Radiologist,
    Site,
    SiteApiToken,
    SiteMembership,
    Study,
    StudyEvent,
    Subspecialty,
)
from worklists.services.audit import AccessContext, audit_study_reads


class DeadlineContractInline(admin.TabularInline):
    model = DeadlineContract
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "time_zone", "hl7_sending_facility", "dicom_ae_title"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    inlines = [DeadlineContractInline]


@admin.register(Subspecialty)
class SubspecialtyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_general", "display_order"]


@admin.register(ClassificationRule)
class ClassificationRuleAdmin(admin.ModelAdmin):
    list_display = [
        "position",
        "name",
        "subspecialty",
        "work_units",
        "modality",
        "body_part",
        "procedure_code",
        "procedure_code_prefix",
        "description_pattern",
        "site",
        "is_active",
    ]
    list_editable = ["is_active"]
    list_filter = ["subspecialty", "modality", "is_active"]
    ordering = ["position", "id"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Patient data changes through the services (orders, lifecycle), never through a form,
    so that every change has its event; the admin shows it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PatientIdentifierInline(admin.TabularInline):
    model = PatientIdentifier
    extra = 0
    fields = ("kind", "authority", "value")
    readonly_fields = ("kind", "authority", "value")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(ReadOnlyAdmin):
    list_display = ["family_name", "given_name", "birth_date", "sex"]
    search_fields = ["family_name", "given_name", "identifiers__value"]
    inlines = [PatientIdentifierInline]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        patient = self.get_object(request, object_id)
        if patient is not None:
            context = AccessContext.from_request(request, channel="admin")
            AuditEvent.objects.create(
                at=timezone.now(),
                actor_id=context.user_id,
                actor_label=context.actor_label,
                action=AuditEvent.Action.PATIENT_VIEW,
                object_type="patient",
                object_id=str(patient.pk),
                patient=patient,
                channel=context.channel,
                remote_addr=context.remote_addr,
                path=context.path,
            )
        return super().change_view(request, object_id, form_url, extra_context)


class StudyEventInline(admin.TabularInline):
    model = StudyEvent
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor_label", "reason", "data")
    readonly_fields = ("at", "from_status", "to_status", "actor_label", "reason", "data")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Study)
class StudyAdmin(ReadOnlyAdmin):
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

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        study = self.get_object(request, object_id)
        if study is not None:
            audit_study_reads(
                context=AccessContext.from_request(request, channel="admin"),
                studies=[study],
                action=AuditEvent.Action.STUDY_VIEW,
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["study", "radiologist", "kind", "assigned_at", "ended_at", "end_reason"]
    list_filter = ["kind"]


class CompetenceInline(admin.TabularInline):
    model = Competence
    extra = 0


class CredentialInline(admin.TabularInline):
    model = Credential
    extra = 0


@admin.register(Radiologist)
class RadiologistAdmin(admin.ModelAdmin):
    list_display = ["display_name", "hpr_number", "modalities", "is_active"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "hpr_number"]
    inlines = [CompetenceInline, CredentialInline]


@admin.register(SiteMembership)
class SiteMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "site"]


@admin.register(SiteApiToken)
class SiteApiTokenAdmin(admin.ModelAdmin):
    list_display = ["site", "created_at", "last_used_at"]
    readonly_fields = ["key", "created_at", "last_used_at"]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "channel", "site", "message_type", "status", "error"]
    list_filter = ["channel", "status", "site"]
    readonly_fields = [f.name for f in InboundMessage._meta.fields]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "action", "object_type", "object_id", "channel"]
    list_filter = ["action", "channel"]
    search_fields = ["actor_label", "object_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
