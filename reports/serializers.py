"""Shapes of the report API. Input serializers check form; the rules live in the services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from reports.models import CommunicationMethod, CriticalCategory, RejectionReason, VersionKind
from reports.services.drafts import DraftInput
from reports.services.signing import CommunicationInput
from worklists.serializers import AwareDateTimeField


class SectionSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=40)
    title = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")
    text = serializers.CharField(
        allow_blank=True, trim_whitespace=False, required=False, default=""
    )


class DraftInSerializer(serializers.Serializer):
    sections = SectionSerializer(many=True, allow_empty=False)
    revision = serializers.IntegerField(
        min_value=0, help_text="The draft revision these sections were written on (0: none yet)."
    )


class OptionalDraftInSerializer(serializers.Serializer):
    """Sections to save first (what is on the reader's screen), or none to use the saved draft."""

    sections = SectionSerializer(many=True, allow_empty=False, required=False)
    revision = serializers.IntegerField(min_value=0, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "sections" in attrs and "revision" not in attrs:
            raise serializers.ValidationError({"revision": ["required with sections"]})
        return attrs

    def draft_input(self) -> DraftInput | None:
        data = self.validated_data
        if "sections" not in data:
            return None
        return DraftInput(
            sections=[dict(s) for s in data["sections"]], base_revision=data["revision"]
        )


class CommunicationInSerializer(serializers.Serializer):
    communicated_to = serializers.CharField(max_length=200)
    method = serializers.ChoiceField(choices=CommunicationMethod.choices)
    communicated_at = AwareDateTimeField()
    read_back_confirmed = serializers.BooleanField()

    def to_input(self) -> CommunicationInput:
        return communication_input(self.validated_data)


def communication_input(data: dict[str, Any]) -> CommunicationInput:
    return CommunicationInput(
        communicated_to=data["communicated_to"],
        method=data["method"],
        communicated_at=data["communicated_at"],
        read_back_confirmed=data["read_back_confirmed"],
    )


class SignInSerializer(OptionalDraftInSerializer):
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    critical_category = serializers.ChoiceField(
        choices=CriticalCategory.choices, required=False, allow_blank=True, default=""
    )
    communication = CommunicationInSerializer(required=False)


class AddendumInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[(VersionKind.ADDENDUM, "Addendum"), (VersionKind.CORRECTION, "Correction")]
    )
    reason = serializers.CharField()
    text = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="The addendum's text."
    )
    sections = SectionSerializer(
        many=True, required=False, help_text="A correction: the corrected report."
    )
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    critical_category = serializers.ChoiceField(
        choices=CriticalCategory.choices, required=False, allow_blank=True, default=""
    )
    communication = CommunicationInSerializer(required=False)


class RejectInSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=RejectionReason.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RejectionFilterSerializer(serializers.Serializer):
    since = AwareDateTimeField(required=False)
    until = AwareDateTimeField(required=False)


class DeliveryOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    result_status = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()


class CommunicationOutSerializer(serializers.Serializer):
    communicated_to = serializers.CharField()
    method = serializers.CharField()
    communicated_at = serializers.DateTimeField()
    read_back_confirmed = serializers.BooleanField()
    recorded_by = serializers.CharField(source="recorded_by.get_username")
    recorded_at = serializers.DateTimeField()


class FindingOutSerializer(serializers.Serializer):
    category = serializers.CharField()
    flagged_at = serializers.DateTimeField()
    communicated_at = serializers.DateTimeField(allow_null=True)
    escalated_at = serializers.DateTimeField(allow_null=True)
    communications = CommunicationOutSerializer(many=True, source="communications.all")


class VersionOutSerializer(serializers.Serializer):
    number = serializers.IntegerField(source="version.number")
    kind = serializers.CharField(source="version.kind")
    result_status = serializers.CharField(source="version.result_status")
    sections = serializers.JSONField(source="version.sections")
    reason = serializers.CharField(source="version.reason")
    signer_name = serializers.CharField(source="version.signer_name")
    signer_hpr = serializers.CharField(source="version.signer_hpr")
    signed_at = serializers.DateTimeField(source="version.signed_at")
    password_confirmed = serializers.BooleanField(source="version.password_confirmed")
    content_hash = serializers.CharField(source="version.content_hash")
    critical_finding = FindingOutSerializer(source="finding", allow_null=True)
    deliveries = DeliveryOutSerializer(many=True)


class DraftOutSerializer(serializers.Serializer):
    sections = serializers.SerializerMethodField(
        help_text="null for readers who are not radiologists or coordinators: a draft is not a "
        "report, and a site acts on issued versions only."
    )
    revision = serializers.IntegerField()
    author = serializers.CharField(source="author_name")
    updated_at = serializers.DateTimeField()

    def get_sections(self, draft: Any) -> list[dict[str, str]] | None:
        # Hidden unless the caller says otherwise (selectors.may_read_drafts): an unsigned
        # draft's text is shown only to those who may act on it, never by default.
        if self.context.get("draft_text") is not True:
            return None
        sections: list[dict[str, str]] = draft.sections
        return sections


class RejectionOutSerializer(serializers.Serializer):
    reason = serializers.CharField()
    reason_label = serializers.CharField(source="get_reason_display")
    comment = serializers.CharField()
    rejected_by = serializers.CharField(source="rejected_by.display_name")
    rejected_at = serializers.DateTimeField()


class ReportOutSerializer(serializers.Serializer):
    study_id = serializers.IntegerField(source="study.id")
    status = serializers.CharField(source="study.status")
    complete = serializers.BooleanField(source="is_complete")
    may_write = serializers.SerializerMethodField()
    draft = DraftOutSerializer(allow_null=True)
    starting_sections = serializers.SerializerMethodField()
    versions = VersionOutSerializer(many=True)
    rejection = RejectionOutSerializer(allow_null=True)
    rejection_deliveries = DeliveryOutSerializer(many=True)

    def get_may_write(self, state: Any) -> bool:
        return bool(self.context.get("may_write"))

    def get_starting_sections(self, state: Any) -> list[dict[str, str]]:
        starting: list[dict[str, str]] = self.context.get("starting_sections", [])
        return starting


class VersionCreatedSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    kind = serializers.CharField()
    result_status = serializers.CharField()
    signed_at = serializers.DateTimeField()
    content_hash = serializers.CharField()


class RejectionCountOutSerializer(serializers.Serializer):
    site_code = serializers.CharField()
    site_name = serializers.CharField()
    reason = serializers.CharField()
    reason_label = serializers.CharField()
    count = serializers.IntegerField()
