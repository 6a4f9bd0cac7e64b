"""The audit trail (privacy officers only, every look at it audited) and coordinator alerts
(scoped like studies, each view audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from worklists.access import (
    is_coordinator,
    is_privacy_officer,
    sites_visible_to,
    studies_visible_to,
)
from worklists.admin.patient_data import PatientDataAdmin
from worklists.models import AuditEvent, CoordinatorAlert
from worklists.services.audit import AccessContext, audit_record_read, audit_trail_read


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
