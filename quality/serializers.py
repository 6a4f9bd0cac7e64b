"""Shapes of the peer-review API. The author's name is null for a reviewer while the policy
blinds it (quality.selectors.author_shown_to decides, the serializer only shows)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from quality.models import ReviewStatus, ReviewTask
from quality.selectors import author_shown_to, report_sections_shown


class ReviewOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    study_id = serializers.IntegerField()
    accession_number = serializers.CharField(source="study.accession_number")
    site_code = serializers.CharField(source="study.site.code")
    worklist = serializers.CharField(source="worklist.code")
    modality = serializers.CharField(source="study.modality")
    procedure = serializers.CharField(source="study.procedure_text")
    status = serializers.ChoiceField(choices=ReviewStatus.choices)
    created_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField()
    assigned_at = serializers.DateTimeField(allow_null=True)
    author_blinded = serializers.SerializerMethodField()
    author = serializers.SerializerMethodField()
    reviewer = serializers.SerializerMethodField()
    scale = serializers.CharField(
        source="scale.code", allow_null=True, help_text="The scale it is scored on."
    )
    score = serializers.CharField(allow_blank=True, help_text="The level's code; blank: unscored.")
    significant = serializers.BooleanField(source="is_significant")
    comment = serializers.CharField(allow_blank=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)

    def get_author_blinded(self, task: ReviewTask) -> bool:
        return author_shown_to(task, self.context["viewer"]) is None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_author(self, task: ReviewTask) -> str | None:
        return author_shown_to(task, self.context["viewer"])

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reviewer(self, task: ReviewTask) -> str | None:
        return task.reviewer.display_name if task.reviewer_id and task.reviewer else None


class ReviewedSectionSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField(allow_blank=True)


class ReviewDetailOutSerializer(ReviewOutSerializer):
    """One review with the signed final report under review (its sections and time; its
    signer only where the author is shown)."""

    report_signed_at = serializers.DateTimeField(source="version.signed_at")
    report_sections = serializers.SerializerMethodField()

    @extend_schema_field(ReviewedSectionSerializer(many=True))
    def get_report_sections(self, task: ReviewTask) -> list[dict[str, Any]]:
        return list(report_sections_shown(task, self.context["viewer"]))


class ScoreInSerializer(serializers.Serializer):
    score = serializers.CharField(
        max_length=16, help_text="A level code of the review scale (RADPEER: 1, 2a, 2b, 3a, 3b)."
    )
    comment = serializers.CharField(allow_blank=True, required=False, default="", max_length=4000)


class ScoreRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="key")
    name = serializers.CharField(source="label")
    counts = serializers.DictField(child=serializers.IntegerField())
    scored = serializers.IntegerField(source="total")
    significant = serializers.IntegerField()
    significant_percent = serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)


class LevelColumnSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="RADPEER's code, or another scale's scale:code.")
    label = serializers.CharField()  # type: ignore[assignment]
    significant = serializers.BooleanField()


class FiguresOutSerializer(serializers.Serializer):
    everyone = serializers.BooleanField(help_text="All readers (a coordinator), else your own.")
    scores = serializers.ListField(child=serializers.CharField(), help_text="The levels' keys.")
    levels = LevelColumnSerializer(many=True)
    readers = ScoreRowSerializer(many=True)
    worklists = ScoreRowSerializer(many=True)


class FiguresFilterSerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="Reviewed on or after (local date).")
    until = serializers.DateField(required=False, help_text="Reviewed before (local date).")
    worklist = serializers.CharField(required=False, help_text="A worklist's code.")


class CancelInSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ReassignInSerializer(serializers.Serializer):
    reviewer_id = serializers.IntegerField(help_text="The radiologist who reviews it from now.")
    reason = serializers.CharField(max_length=500)


class ReviewerChoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The radiologist's id, for a reassignment.")
    name = serializers.CharField(source="display_name")
    open_reviews = serializers.IntegerField()
