"""Shapes of the console's API (worklists/console/api.py)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from worklists.console.selectors import alert_kind_label
from worklists.models import CoordinatorAlert
from worklists.serializers import AwareDateTimeField


class BacklogLineOutSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Worklist or site code; empty for unclassified studies.")
    name = serializers.CharField()
    unread = serializers.IntegerField()
    work_units = serializers.DecimalField(max_digits=10, decimal_places=2)
    oldest_ready_at = serializers.DateTimeField(allow_null=True)
    at_risk = serializers.IntegerField()
    overdue = serializers.IntegerField()


class ReaderRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    last_active_at = serializers.DateTimeField(allow_null=True)


class AtRiskOutSerializer(serializers.Serializer):
    study_id = serializers.IntegerField(source="study.id")
    site = serializers.CharField(source="study.site.code")
    accession_number = serializers.CharField(source="study.accession_number")
    priority = serializers.CharField(source="study.priority")
    status = serializers.CharField(source="study.status")
    worklist = serializers.CharField(source="study.worklist.code", allow_null=True, default=None)
    deadline = serializers.DateTimeField(source="study.deadline")
    risk = serializers.CharField()
    holder = ReaderRefSerializer(allow_null=True)
    assigned_at = serializers.DateTimeField(allow_null=True)
    opened_at = serializers.DateTimeField(allow_null=True)


class BacklogOutSerializer(serializers.Serializer):
    total = BacklogLineOutSerializer()
    worklists = BacklogLineOutSerializer(many=True)
    sites = BacklogLineOutSerializer(many=True)
    at_risk = AtRiskOutSerializer(many=True)


class CompetenceOutSerializer(serializers.Serializer):
    worklist = serializers.CharField()
    level = serializers.CharField()


class OpenStudyOutSerializer(serializers.Serializer):
    study_id = serializers.IntegerField(source="id")
    site = serializers.CharField(source="site.code")
    accession_number = serializers.CharField()


class ReaderLoadOutSerializer(serializers.Serializer):
    reader = ReaderRefSerializer(source="radiologist")
    on_shift = serializers.BooleanField()
    off_shift_with_queue = serializers.BooleanField()
    shift_started_at = serializers.DateTimeField(allow_null=True)
    shift_ends_at = serializers.DateTimeField(allow_null=True)
    next_shift_at = serializers.DateTimeField(allow_null=True)
    queue_count = serializers.IntegerField()
    queue_work_units = serializers.DecimalField(max_digits=10, decimal_places=2)
    done_work_units = serializers.DecimalField(max_digits=10, decimal_places=2)
    target_work_units = serializers.DecimalField(max_digits=10, decimal_places=2)
    carried_deficit_work_units = serializers.DecimalField(max_digits=10, decimal_places=2)
    open_study = OpenStudyOutSerializer(allow_null=True)
    opened_at = serializers.DateTimeField(allow_null=True)
    competences = serializers.SerializerMethodField()
    sites = serializers.ListField(child=serializers.CharField(), source="site_codes")

    def get_competences(self, obj: Any) -> list[dict[str, str]]:
        return [{"worklist": name, "level": level} for name, level in obj.competences]


class AlertOutSerializer(serializers.ModelSerializer[CoordinatorAlert]):
    kind_label = serializers.SerializerMethodField()
    site = serializers.CharField(source="site.code", allow_null=True, default=None)
    study_deadline = serializers.DateTimeField(
        source="study.deadline", allow_null=True, default=None
    )
    resolved_by = serializers.CharField(
        source="resolved_by.get_username", allow_null=True, default=None
    )
    snoozed_by = serializers.CharField(
        source="snoozed_by.get_username", allow_null=True, default=None
    )

    class Meta:
        model = CoordinatorAlert
        fields = [
            "id",
            "kind",
            "kind_label",
            "message",
            "study_id",
            "site",
            "study_deadline",
            "raised_at",
            "last_raised_at",
            "raise_count",
            "snoozed_until",
            "snoozed_by",
            "resolved_at",
            "resolved_by",
            "resolution",
        ]

    def get_kind_label(self, obj: CoordinatorAlert) -> str:
        return alert_kind_label(obj.kind)


class AlertsOutSerializer(serializers.Serializer):
    open = AlertOutSerializer(many=True, help_text="Most urgent first (the study's deadline).")
    snoozed = AlertOutSerializer(many=True, help_text="The first to come back first.")


class SnoozeInSerializer(serializers.Serializer):
    until = AwareDateTimeField(required=False, help_text="Snoozed until then (with UTC offset).")
    minutes = serializers.IntegerField(
        required=False, min_value=1, help_text="Or: snoozed this many minutes from now."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("until" in attrs) == ("minutes" in attrs):
            raise serializers.ValidationError("give either until or minutes")
        return attrs


class CandidateOutSerializer(serializers.Serializer):
    load = ReaderLoadOutSerializer(help_text="The load board's figures for this reader.")
    eligible = serializers.BooleanField(
        help_text="The routing rules allow this reader now; otherwise choosing them overrides."
    )
    excluded_because = serializers.CharField(help_text="The rule that excludes them, if any.")
    overridable = serializers.BooleanField(
        help_text="Excluded by a rule a coordinator may override (not by what keeps a double "
        "read's reads independent: an earlier reader or their site)."
    )
    holds_it = serializers.BooleanField(help_text="The study's holder now.")
    routing_choice = serializers.BooleanField(
        help_text="The eligible reader routing would push the study to."
    )


class CandidatesOutSerializer(serializers.Serializer):
    study_id = serializers.IntegerField(source="study.id")
    tier = serializers.IntegerField(
        help_text="The escalation tier the rules apply at: the study's own, or a running "
        "surge's when higher."
    )
    raised_by_surge = serializers.BooleanField(
        help_text="A surge running for the study's worklist raised the tier above its own."
    )
    holder_id = serializers.IntegerField(allow_null=True)
    not_assignable_because = serializers.CharField(
        help_text="Why the study cannot be assigned now; empty when it can."
    )
    readers = CandidateOutSerializer(
        many=True, help_text="Eligible first, least loaded first; then the excluded."
    )
