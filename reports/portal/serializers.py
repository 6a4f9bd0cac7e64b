"""Shapes of the site portal's API (reports/portal/api.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from reports.portal.forms import Q_MAX_LENGTH
from reports.portal.states import DeliveryStatus, PortalState, ReportStatus


class PortalQueryInSerializer(serializers.Serializer):
    site = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Site code. A site user's own site if left out; coordinators must name one.",
    )
    state = serializers.ChoiceField(
        choices=[s.value for s in PortalState], required=False, allow_blank=True
    )
    # "from" is a Python keyword: the field is named in the query as from/to (see to_internal).
    date_from = serializers.DateField(
        required=False, help_text="First order date, on the site's calendar (inclusive)."
    )
    date_to = serializers.DateField(
        required=False, help_text="Last order date, on the site's calendar (inclusive)."
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=Q_MAX_LENGTH,
        help_text="Exact accession number or patient identifier (the site's own numbers and "
        "national numbers).",
    )
    cursor = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_to": "the period ends before it starts"})
        return attrs


class PortalIdentifierOutSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()
    authority = serializers.CharField()


class PortalPatientOutSerializer(serializers.Serializer):
    name = serializers.CharField(source="display_name")
    birth_date = serializers.DateField(allow_null=True)
    sex = serializers.CharField()


class ReportSummaryOutSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[s.value for s in ReportStatus], help_text="Empty: no report issued."
    )
    version_number = serializers.IntegerField()
    signed_at = serializers.DateTimeField(allow_null=True)
    signed_by = serializers.CharField(source="signer_name")


class PortalDeliveryOutSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[s.value for s in DeliveryStatus],
        help_text="The worst of the study's deliveries to the site's RIS: dead, retrying, "
        "queued, then acknowledged. Empty: nothing owed.",
    )
    result_status = serializers.CharField(help_text="OBR-25 of that delivery (P, F, C).")
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()
    ack_code = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True)


class ReturnedOutSerializer(serializers.Serializer):
    reason = serializers.CharField()
    reason_label = serializers.CharField(source="get_reason_display")
    comment = serializers.CharField()
    returned_at = serializers.DateTimeField(source="rejected_at")


class PortalRowOutSerializer(serializers.Serializer):
    study_id = serializers.IntegerField(source="study.id")
    accession_number = serializers.CharField(source="study.accession_number")
    patient = PortalPatientOutSerializer()
    identifiers = PortalIdentifierOutSerializer(many=True)
    modality = serializers.CharField(source="study.modality")
    procedure = serializers.CharField(source="study.procedure_text")
    priority = serializers.CharField(source="study.priority")
    ordered_at = serializers.DateTimeField(source="study.ordered_at")
    ready_at = serializers.DateTimeField(source="study.ready_at", allow_null=True)
    state = serializers.ChoiceField(choices=[s.value for s in PortalState])
    status = serializers.CharField(source="study.status")
    report = ReportSummaryOutSerializer()
    delivery = PortalDeliveryOutSerializer()
    returned = ReturnedOutSerializer(source="rejection", allow_null=True)


class PortalCountsOutSerializer(serializers.Serializer):
    waiting = serializers.IntegerField()
    reading = serializers.IntegerField()
    preliminary = serializers.IntegerField()
    final = serializers.IntegerField()
    returned = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class PortalListOutSerializer(serializers.Serializer):
    site = serializers.CharField()
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    counts = PortalCountsOutSerializer(help_text="Per state, under every filter but the state.")
    results = PortalRowOutSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
