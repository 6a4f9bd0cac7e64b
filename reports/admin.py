from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from reports.models import (
    CriticalCommunication,
    CriticalFinding,
    DoubleRead,
    DoubleReadingPolicy,
    IndependentRead,
    Macro,
    ReferralRejection,
    ReportTemplate,
    ReportTemplateSection,
    ReportVersion,
    SigningFailure,
)
from reports.services.audit import audit_report_reads
from reports.services.errors import ReportInvalid
from reports.services.macros import clean_macro_name
from worklists.access import studies_visible_to
from worklists.admin.patient_data import PatientDataAdmin
from worklists.services.audit import AccessContext


class ReportTemplateSectionInline(admin.TabularInline):
    model = ReportTemplateSection
    extra = 0
    fields = ("position", "key", "title", "default_text")


@admin.register(ReportTemplate)
class ReportTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "procedure_code", "modality", "worklist", "is_active"]
    list_filter = ["worklist", "modality", "is_active"]
    search_fields = ["name", "procedure_code"]
    inlines = [ReportTemplateSectionInline]


@admin.register(DoubleReadingPolicy)
class DoubleReadingPolicyAdmin(admin.ModelAdmin):
    """Which worklists read their studies twice (docs/double-reading.md). No patient data: the
    reads themselves are shown, scoped and audited, on the reading page and in the API."""

    list_display = [
        "worklist",
        "procedure_codes",
        "is_active",
        "agreement_rule",
        "second_reader_other_site",
        "read_deadline_hours",
    ]
    list_filter = ["is_active", "agreement_rule"]
    filter_horizontal = ["consensus_readers"]


class MacroAdminForm(forms.ModelForm):
    class Meta:
        model = Macro
        fields = ["name", "text", "description", "worklist", "owner"]

    def clean_name(self) -> str:
        try:
            return clean_macro_name(self.cleaned_data.get("name", ""))
        except ReportInvalid as exc:
            raise ValidationError(str(exc)) from exc


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    """Macros hold no patient data. Readers keep their own on the macro page; here the
    coordinators and administrators keep the shared ones (a macro is personal or shared)."""

    list_display = ["name", "worklist", "owner", "description", "updated_at"]
    list_filter = ["worklist"]
    search_fields = ["name", "text", "description", "owner__user__username"]
    form = MacroAdminForm

    def save_model(self, request: HttpRequest, obj: Macro, form: Any, change: bool) -> None:
        now = timezone.now()
        if not change:
            obj.created_at = now
        obj.updated_at = now
        super().save_model(request, obj, form, change)


class ReportDataAdmin(PatientDataAdmin):
    """Reports change only through the services; the admin shows them, scoped and audited."""

    def audit_view(self, request: HttpRequest, obj: Any) -> None:
        audit_report_reads(
            context=AccessContext.from_request(request, channel="admin"), studies=[obj.study]
        )


@admin.register(ReportVersion)
class ReportVersionAdmin(ReportDataAdmin):
    list_display = ["study", "number", "kind", "signer_name", "signed_at", "critical_category"]
    list_filter = ["kind", "critical_category"]
    search_fields = ["study__accession_number", "signer_name", "signer_hpr"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReportVersion]:
        return ReportVersion.objects.filter(
            study__in=studies_visible_to(request.user)
        ).select_related("study")


class CriticalCommunicationInline(admin.TabularInline):
    model = CriticalCommunication
    extra = 0
    can_delete = False
    fields = ("communicated_to", "method", "communicated_at", "read_back_confirmed", "recorded_by")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CriticalFinding)
class CriticalFindingAdmin(ReportDataAdmin):
    list_display = ["study", "category", "flagged_at", "communicated_at", "escalated_at"]
    list_filter = ["category", ("communicated_at", admin.EmptyFieldListFilter)]
    inlines = [CriticalCommunicationInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CriticalFinding]:
        return CriticalFinding.objects.filter(
            study__in=studies_visible_to(request.user)
        ).select_related("study")


@admin.register(ReferralRejection)
class ReferralRejectionAdmin(ReportDataAdmin):
    """Returned referrals; the filters show the count per site and per reason."""

    list_display = ["study", "site", "reason", "rejected_by", "rejected_at"]
    list_filter = ["site", "reason", "rejected_at"]
    show_facets = admin.ShowFacets.ALWAYS
    date_hierarchy = "rejected_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReferralRejection]:
        return ReferralRejection.objects.filter(
            study__in=studies_visible_to(request.user)
        ).select_related("study", "site", "rejected_by__user")


@admin.register(SigningFailure)
class SigningFailureAdmin(admin.ModelAdmin):
    """Wrong signing passwords: who, on which study, when (read-only)."""

    list_display = ["at", "user", "study"]
    list_filter = ["at"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "study", "at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Double reading: the record --------------------------------------------------------------------


def _readers(radiologists: Any) -> str:
    return ", ".join(r.display_name for r in radiologists.select_related("user")) or "—"


class IndependentReadInline(admin.StackedInline):
    """The two reads of a double read, as signed (never changed: the services only make
    them)."""

    model = IndependentRead
    extra = 0
    can_delete = False
    fields = (
        "number",
        "radiologist",
        "signer_name",
        "signer_hpr",
        "signed_at",
        "deadline",
        "score_right",
        "score_left",
        "recall",
        "sections",
        "draft_authors_shown",
        "content_hash",
    )
    readonly_fields = fields

    @admin.display(description="Draft also written by")
    def draft_authors_shown(self, obj: IndependentRead) -> str:
        return _readers(obj.draft_authors.all())

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DoubleRead)
class DoubleReadAdmin(ReportDataAdmin):
    """Each study's double reading and what its policy decided when it started (the record:
    read-only, scoped to the studies the user may see, each view audited as a report read)."""

    list_display = ["study", "stage", "agreement_rule", "started_at", "completed_at", "arbitrator"]
    list_filter = ["stage", "agreement_rule"]
    search_fields = ["study__accession_number"]
    date_hierarchy = "started_at"
    fields = (
        "study",
        "policy",
        "stage",
        "started_at",
        "completed_at",
        "result_scale",
        "agreement_rule",
        "second_reader_other_site",
        "consensus_readers_shown",
        "read_deadline_hours",
        "arbitrator",
        "final_version",
    )
    readonly_fields = fields
    inlines = [IndependentReadInline]

    @admin.display(description="Consensus readers (when it started)")
    def consensus_readers_shown(self, obj: DoubleRead) -> str:
        return _readers(obj.consensus_readers.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[DoubleRead]:
        return DoubleRead.objects.filter(study__in=studies_visible_to(request.user)).select_related(
            "study", "arbitrator__user"
        )


@admin.register(IndependentRead)
class IndependentReadAdmin(ReportDataAdmin):
    """The independent reads by reader (read-only, scoped, audited): the record of who read
    what, with which result."""

    list_display = ["double_read", "number", "signer_name", "score_right", "score_left", "recall"]
    list_filter = ["number", "recall", "signed_at"]
    search_fields = ["double_read__study__accession_number", "signer_name", "signer_hpr"]
    date_hierarchy = "signed_at"
    fields = IndependentReadInline.fields
    readonly_fields = fields

    @admin.display(description="Draft also written by")
    def draft_authors_shown(self, obj: IndependentRead) -> str:
        return _readers(obj.draft_authors.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[IndependentRead]:
        # study_id: what the audit of a list names (worklists.admin.patient_data)
        return (
            IndependentRead.objects.filter(double_read__study__in=studies_visible_to(request.user))
            .annotate(study_id=F("double_read__study_id"))
            .select_related("double_read__study")
        )

    def audit_view(self, request: HttpRequest, obj: Any) -> None:
        audit_report_reads(
            context=AccessContext.from_request(request, channel="admin"),
            studies=[obj.double_read.study],
        )
