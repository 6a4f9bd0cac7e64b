"""Patient data in the admin: shown scoped to what the user may see, never changed through a
form (changes go through the services, so each has its event), every view audited. The base
class for every admin of patient data, in this app and in the adapters.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from worklists.models import Patient, Study
from worklists.services.audit import AccessContext, ListedRecord, audit_list_reads


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
