from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from dicom.models import DicomSiteSettings, FailedInstance, RejectedAssociation, StudyImages
from worklists.access import studies_visible_to
from worklists.admin.patient_data import PatientDataAdmin
from worklists.models import AuditEvent
from worklists.services.audit import AccessContext, audit_study_reads


@admin.register(DicomSiteSettings)
class DicomSiteSettingsAdmin(admin.ModelAdmin):
    list_display = ["site", "site_ae_title", "images_only", "allowed_source_addresses"]
    list_filter = ["images_only"]
    list_select_related = ["site"]

    @admin.display(description="Calling AE title")
    def site_ae_title(self, obj: DicomSiteSettings) -> str:
        return obj.site.dicom_ae_title or "—"


class ReadOnlyLogAdmin(admin.ModelAdmin):
    """Logs are written by the receiver only."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RejectedAssociation)
class RejectedAssociationAdmin(ReadOnlyLogAdmin):
    list_display = ["at", "calling_ae_title", "called_ae_title", "peer_address", "reason"]
    search_fields = ["calling_ae_title", "peer_address"]
    date_hierarchy = "at"


@admin.register(FailedInstance)
class FailedInstanceAdmin(ReadOnlyLogAdmin):
    list_display = ["received_at", "site", "calling_ae_title", "status_hex", "sop_instance_uid"]
    list_filter = ["site"]
    search_fields = ["sop_instance_uid", "calling_ae_title", "error"]
    exclude = ["raw"]
    readonly_fields = ["raw_size"]

    @admin.display(description="Status")
    def status_hex(self, obj: FailedInstance) -> str:
        return f"0x{obj.status:04X}"

    @admin.display(description="Bytes kept")
    def raw_size(self, obj: FailedInstance) -> int:
        return len(obj.raw or b"")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Kept for inspection: nothing received is thrown away from here.
        return False


@admin.register(StudyImages)
class StudyImagesAdmin(PatientDataAdmin):
    list_display = [
        "study",
        "instance_count",
        "series_count",
        "complete",
        "images_without_order",
        "patient_mismatch",
        "late_instance_count",
        "last_instance_at",
    ]
    list_filter = ["complete", "images_without_order", "patient_mismatch"]
    search_fields = ["study_instance_uid", "study__accession_number"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StudyImages]:
        visible = studies_visible_to(request.user)
        return StudyImages.objects.filter(study__in=visible).select_related("study")

    def audit_view(self, request: HttpRequest, obj: StudyImages) -> None:
        audit_study_reads(
            context=AccessContext.from_request(request, channel="admin"),
            studies=[obj.study],
            action=AuditEvent.Action.STUDY_VIEW,
        )
