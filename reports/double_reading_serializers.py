"""Shapes of the double-reading API. Input serializers check form; the rules (blinding, who
signs what) live in reports.services.double_reading and reports.double_reading_selectors."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reports.serializers import OptionalDraftInSerializer, SectionSerializer
from reports.services.arbitration import ScreeningResult
from worklists.serializers import AwareDateTimeField


class IndependentReadSignInSerializer(OptionalDraftInSerializer):
    """Sign the holder's independent read: the password, the result, and optionally the
    sections on the reader's screen (saved first, as for the final report)."""

    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    score_right = serializers.IntegerField(
        min_value=1, max_value=5, help_text="Interpretation score of the right breast, 1-5."
    )
    score_left = serializers.IntegerField(
        min_value=1, max_value=5, help_text="Interpretation score of the left breast, 1-5."
    )
    recall = serializers.BooleanField(help_text="Whether the woman is recalled.")

    def result(self) -> ScreeningResult:
        data = self.validated_data
        return ScreeningResult(
            score_right=data["score_right"], score_left=data["score_left"], recall=data["recall"]
        )


class ResultOutSerializer(serializers.Serializer):
    score_right = serializers.IntegerField()
    score_left = serializers.IntegerField()
    recall = serializers.BooleanField()


class IndependentReadOutSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    radiologist_id = serializers.IntegerField()
    signer_name = serializers.CharField()
    signed_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField(allow_null=True)
    result = serializers.SerializerMethodField()
    sections = SectionSerializer(many=True)
    content_hash = serializers.CharField()

    @extend_schema_field(ResultOutSerializer)
    def get_result(self, read: object) -> dict[str, object]:
        return ResultOutSerializer(read).data


class DoubleReadingOutSerializer(serializers.Serializer):
    study_id = serializers.IntegerField()
    stage = serializers.CharField(
        allow_null=True,
        help_text="FIRST_READ, SECOND_READ, ARBITRATION, AGREED, ARBITRATED; null: the study "
        "is not double read.",
    )
    reads = IndependentReadOutSerializer(
        many=True, help_text="The independent reads the caller may see now."
    )
    hidden_reads = serializers.IntegerField(
        help_text="Signed reads the caller may not see yet (blind until their own is signed)."
    )
    own_read_number = serializers.IntegerField(allow_null=True)
    arbitrator_id = serializers.IntegerField(allow_null=True)
    final_version_number = serializers.IntegerField(allow_null=True)


class IndependentReadSignedSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    stage = serializers.CharField(source="double_read.stage")
    signed_at = serializers.DateTimeField()
    content_hash = serializers.CharField()


class FiguresFilterSerializer(serializers.Serializer):
    since = AwareDateTimeField(required=False)
    until = AwareDateTimeField(required=False)


class ReaderFiguresOutSerializer(serializers.Serializer):
    radiologist_id = serializers.IntegerField()
    name = serializers.CharField()
    reads = serializers.IntegerField(help_text="Independent reads signed in the period.")
    recalls = serializers.IntegerField()
    recall_rate = serializers.FloatField(allow_null=True)
    compared = serializers.IntegerField(help_text="Reads whose pair has been compared.")
    disagreements = serializers.IntegerField()
    disagreement_rate = serializers.FloatField(allow_null=True)
