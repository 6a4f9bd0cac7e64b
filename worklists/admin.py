from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from worklists.access import (
    identifiers_visible,
    is_coordinator,
    is_privacy_officer,
    patients_visible_to,
    sites_visible_to,
    studies_visible_to,
    visible_site_ids,
)
from worklists.models import (
    Assignment,
    AuditEvent,
    ClassificationRule,
    Competence,
    CoordinatorAlert,
    CoverageWindow,
    Credential,
    DeadlineContract,
    InboundMessage,
    Patient,
    PatientIdentifier,
    Radiologist,
    Shift,
    Site,
    SiteApiToken,
    SiteMembership,
    Study,
    StudyEvent,
    Subspecialty,
)
from worklists.services.audit import (
    AccessContext,
    ListedRecord,
    audit_list_reads,
    audit_patient_read,
    audit_record_read,
    audit_study_reads,
    audit_trail_read,
)
from worklists.services.shifts import ShiftImportError, shifts_import


class DeadlineContractInline(admin.TabularInline):
    model = DeadlineContract
    extra = 0


class CoverageWindowInline(admin.TabularInline):
    model = CoverageWindow
    extra = 0
    verbose_name_plural = "coverage windows (site's local time; none: outsources around the clock)"


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "time_zone", "hl7_sending_facility", "dicom_ae_title"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    inlines = [DeadlineContractInline, CoverageWindowInline]


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


def listed_records(objects: list[Any]) -> list[ListedRecord]:
    """The patient (and site) of each row of an admin list: the row's own patient, else its
    study's (looked up in one query for all rows)."""
    study_ids = {
        obj.study_id
        for obj in objects
        if not isinstance(obj, Patient) and getattr(obj, "patient_id", None) is None
        if getattr(obj, "study_id", None) is not None
    }
    of_study: dict[int | None, tuple[int | None, int | None]] = {
        study_id: (patient_id, site_id)
        for study_id, patient_id, site_id in Study.objects.filter(id__in=study_ids).values_list(
            "id", "patient_id", "site_id"
        )
    }
    records = []
    for obj in objects:
        patient_id: int | None
        site_id: int | None
        if isinstance(obj, Patient):
            patient_id, site_id = obj.pk, None
        elif isinstance(obj, Study):
            patient_id, site_id = obj.patient_id, obj.site_id
        elif getattr(obj, "patient_id", None) is not None:
            patient_id, site_id = obj.patient_id, getattr(obj, "site_id", None)
        else:
            patient_id, site_id = of_study.get(getattr(obj, "study_id", None), (None, None))
            site_id = getattr(obj, "site_id", None) or site_id
        records.append(
            ListedRecord(
                object_type=obj._meta.model_name,
                object_id=obj.pk,
                patient_id=patient_id,
                site_id=site_id,
            )
        )
    return records


class PatientDataAdmin(admin.ModelAdmin):
    """Patient data changes through the services (orders, lifecycle), never through a form,
    so that every change has its event; the admin shows it, scoped, and audits each view."""

    def audit_view(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            audit_list_reads(
                context=AccessContext.from_request(request, channel="admin"),
                records=listed_records(list(changelist.result_list)),
            )
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is not None:
            self.audit_view(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

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
    """Tokens are issued with ``manage.py site_token`` (the secret is shown once, then only its
    hash exists); here they are seen and revoked."""

    list_display = ["site", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["site"]
    readonly_fields = ["site", "key_prefix", "key_hash", "created_at", "last_used_at"]
    fields = [*readonly_fields, "expires_at", "revoked_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


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


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, for privacy officers: searchable by patient (name, national or record
    number, ``id:<patient id>``) and by period; every look at it is itself audited."""

    list_display = [
        "at",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "patient",
        "site",
        "channel",
        "remote_addr",
    ]
    list_filter = ["action", "channel", "at", "site"]
    date_hierarchy = "at"
    search_fields = [
        "actor_label",
        "object_id",
        "patient__family_name",
        "patient__given_name",
        "=patient__identifiers__value",
    ]
    search_help_text = (
        "Who (user name), what (object id), or whose data: a patient's name, national or record "
        "number, or id:<patient id>."
    )
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    list_select_related = ["patient", "site"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent], search_term: str
    ) -> tuple[QuerySet[AuditEvent], bool]:
        term = search_term.strip()
        if term.startswith("id:") and term[3:].strip().isdigit():
            return queryset.filter(patient_id=int(term[3:].strip())), False
        return super().get_search_results(request, queryset, search_term)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_privacy_officer(request.user)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if response.status_code == 200:
            audit_trail_read(
                context=AccessContext.from_request(request, channel="admin"),
                what=f"admin list {request.GET.urlencode()}"[:64],
            )
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            event = AuditEvent.objects.filter(pk=object_id).first() if object_id.isdigit() else None
            audit_trail_read(
                context=AccessContext.from_request(request, channel="admin"),
                what=f"event {object_id}",
                patient_id=event.patient_id if event else None,
            )
        return response

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CoordinatorAlert)
class CoordinatorAlertAdmin(PatientDataAdmin):
    """Alerts can name a patient (a mismatch quotes the images' PatientID): scoped like studies,
    each view audited."""

    list_display = ["raised_at", "kind", "site", "study", "message", "resolved_at"]
    list_filter = ["kind", "site", ("resolved_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["kind", "study", "site", "message", "data", "raised_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CoordinatorAlert]:
        alerts = super().get_queryset(request).select_related("site", "study")
        if is_coordinator(request.user):
            return alerts
        return alerts.filter(
            Q(study__in=studies_visible_to(request.user))
            | Q(study__isnull=True, site__in=sites_visible_to(request.user))
        )

    def audit_view(self, request: HttpRequest, obj: CoordinatorAlert) -> None:
        audit_record_read(
            context=AccessContext.from_request(request, channel="admin"),
            object_type="coordinator_alert",
            object_id=obj.pk,
            patient_id=obj.study.patient_id if obj.study else None,
            site_id=obj.site_id,
        )


# Routing


class ShiftImportForm(forms.Form):
    file = forms.FileField(help_text=".ics or .csv")


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["radiologist", "role", "starts_at", "ends_at", "target_work_units", "source"]
    list_filter = ["role", "worklists", "sites"]
    search_fields = ["radiologist__user__username", "radiologist__hpr_number", "external_id"]
    date_hierarchy = "starts_at"
    filter_horizontal = ["worklists", "sites"]
    readonly_fields = ["started_at", "carried_deficit_work_units", "created_at"]
    list_select_related = ["radiologist__user"]

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="worklists_shift_import",
            )
        ]
        return custom + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a schedule: all rows checked, then all imported or none (errors listed)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        errors: list[str] = []
        form = ShiftImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = shifts_import(content=upload.read(), filename=upload.name or "upload")
            except ShiftImportError as exc:
                errors = exc.errors
            else:
                self.message_user(
                    request,
                    f"{result.created} shift(s) created, {result.updated} updated.",
                    messages.SUCCESS,
                )
                return redirect("admin:worklists_shift_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "errors": errors,
            "zone": settings.ROUTING_SHIFT_TIME_ZONE,
            "title": "Import shifts",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/worklists/shift/import.html", context)
