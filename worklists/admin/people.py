"""People and credentials: radiologists (competences, licences), site memberships and the
sites' API tokens."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from worklists.models import Competence, Credential, Radiologist, SiteApiToken, SiteMembership


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
