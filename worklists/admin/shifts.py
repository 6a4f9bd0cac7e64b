"""Shifts, and the schedule import (.ics or .csv) routing reads them from."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from worklists.models import Shift
from worklists.services.shifts import ShiftImportError, shifts_import


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
