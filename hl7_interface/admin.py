"""The outbox in the admin: what is owed to each RIS, dead letters first, with a re-send action;
and the core's inbound messages with a reprocess action.

Outbound rows carry report text, so they are scoped like studies and each view is audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from hl7_interface.models import OutboundMessage, SiteHl7Config
from hl7_interface.outbox import NotResendable, outbox_resend
from hl7_interface.services import hl7_reprocess
from worklists.access import is_coordinator, studies_visible_to
from worklists.actors import Actor
from worklists.admin.patient_data import PatientDataAdmin
from worklists.admin.patients import InboundMessageAdmin
from worklists.models import AuditEvent, InboundMessage
from worklists.services.audit import AccessContext, audit_study_reads
from worklists.services.inbound import InboundAlreadyApplied


class Hl7InboundMessageAdmin(InboundMessageAdmin):
    """The core's inbound messages, with the action only the HL7 interface can do: parse and
    apply a stored HL7 message again. REST orders are re-sent by the site instead."""

    actions = ["reprocess"]

    @admin.action(description="Reprocess the selected HL7 messages (after a fix)")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        outcomes: dict[str, int] = {}
        for inbound_id in queryset.filter(channel=InboundMessage.Channel.HL7).values_list(
            "id", flat=True
        ):
            try:
                code = hl7_reprocess(inbound_id=inbound_id).ack_code
            except InboundAlreadyApplied:
                code = "already applied"
            outcomes[code] = outcomes.get(code, 0) + 1
        summary = ", ".join(f"{count} {code}" for code, count in sorted(outcomes.items()))
        self.message_user(request, f"Reprocessed: {summary or 'no HL7 messages selected'}")


# worklists.admin registered the core's admin first (importing one of its modules above imports
# the package, which registers them all, whatever the app order).
admin.site.unregister(InboundMessage)
admin.site.register(InboundMessage, Hl7InboundMessageAdmin)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(PatientDataAdmin):
    list_display = [
        "id",
        "created_at",
        "site",
        "study",
        "kind",
        "result_status",
        "status",
        "attempts",
        "next_attempt_at",
        "ack_code",
        "last_error",
    ]
    list_filter = ["status", "kind", "site"]
    ordering = ["-status", "-id"]  # PENDING, DEAD, DELIVERED: what needs attention on top
    raw_id_fields = ["study"]
    actions = ["resend"]
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutboundMessage]:
        visible = studies_visible_to(request.user)
        return OutboundMessage.objects.filter(study__in=visible).select_related("site", "study")

    def audit_view(self, request: HttpRequest, obj: OutboundMessage) -> None:
        audit_study_reads(
            context=AccessContext.from_request(request, channel="admin"),
            studies=[obj.study],
            action=AuditEvent.Action.REPORT_VIEW,
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Coordinators watch deliveries and re-send dead letters.
        return is_coordinator(request.user) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_coordinator(request.user) or super().has_module_permission(request)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not is_coordinator(request.user):
            actions.pop("resend", None)
        return actions

    @admin.action(description="Re-send the selected messages (dead-lettered or delivered)")
    def resend(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        actor = Actor.for_user(request.user)
        sent = 0
        for message_id in queryset.values_list("id", flat=True):
            try:
                outbox_resend(message_id=message_id, actor=actor)
                sent += 1
            except NotResendable as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if sent:
            self.message_user(request, f"{sent} message(s) queued to be sent again.")


@admin.register(SiteHl7Config)
class SiteHl7ConfigAdmin(admin.ModelAdmin):
    list_display = [
        "site",
        "receiving_application",
        "receiving_facility",
        "ris_host",
        "ris_port",
        "default_charset",
        "allowed_source_addresses",
    ]
