"""Sites (with their deadline contracts and coverage windows), subspecialties, the
classification rules that decide a study's worklist, and the low-value referral rules that flag
an order at intake."""

from __future__ import annotations

from django.contrib import admin

from worklists.models import (
    ClassificationRule,
    CoverageWindow,
    DeadlineContract,
    LowValueRule,
    Site,
    Worklist,
)


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


@admin.register(Worklist)
class WorklistAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_general", "display_order"]


@admin.register(ClassificationRule)
class ClassificationRuleAdmin(admin.ModelAdmin):
    list_display = [
        "position",
        "name",
        "worklist",
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
    list_filter = ["worklist", "modality", "is_active"]
    ordering = ["position", "id"]


@admin.register(LowValueRule)
class LowValueRuleAdmin(admin.ModelAdmin):
    list_display = [
        "position",
        "name",
        "is_example",
        "modality",
        "body_part",
        "procedure_code",
        "procedure_code_prefix",
        "min_age_years",
        "max_age_years",
        "question_words",
        "excluding_words",
        "is_active",
    ]
    list_editable = ["is_active"]
    list_filter = ["is_active", "is_example", "modality"]
    search_fields = ["name", "text", "question_words"]
    ordering = ["position", "id"]
