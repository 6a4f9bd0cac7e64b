"""Shapes of the REST API. Input serializers check form; rules (national numbers, what a new
order needs, birth dates) live in worklists.validation, which the services apply."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from worklists.models import Modality, PatientIdentifier, Priority, Sex, Study, StudyStatus
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
)


class AwareDateTimeField(serializers.DateTimeField):
    """A date-time that must state its UTC offset: a site's clock is not the server's."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_datetime(value)
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(
                    "must include a UTC offset, e.g. 2026-11-26T21:14:00+01:00"
                )
        return super().to_internal_value(value)


class IdentifierInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PatientIdentifier.Kind.choices)
    value = serializers.CharField(max_length=64)
    authority = serializers.CharField(max_length=64, required=False, allow_blank=True)


class PatientInSerializer(serializers.Serializer):
    identifiers = IdentifierInSerializer(many=True, allow_empty=False)
    family_name = serializers.CharField(max_length=100)
    given_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)


class ProcedureSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    text = serializers.CharField(max_length=300)
    coding_system = serializers.CharField(max_length=32, required=False, allow_blank=True)


class StudyInSerializer(serializers.Serializer):
    """Every field optional here: a new order needs modality, procedure and ordered_at (checked
    by the order service, worklists.validation); an update states only what changes."""

    modality = serializers.ChoiceField(choices=Modality.choices, required=False)
    procedure = ProcedureSerializer(required=False)
    body_part = serializers.CharField(max_length=64, required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    clinical_question = serializers.CharField(required=False, allow_blank=True)
    referring_physician = serializers.CharField(max_length=200, required=False, allow_blank=True)
    ordered_at = AwareDateTimeField(required=False)
    study_instance_uid = serializers.RegexField(
        r"^[0-9]+(\.[0-9]+)*$", max_length=64, required=False, allow_blank=True
    )
    placer_order_number = serializers.CharField(max_length=199, required=False, allow_blank=True)
    filler_order_number = serializers.CharField(max_length=199, required=False, allow_blank=True)


class OrderInSerializer(serializers.Serializer):
    accession_number = serializers.CharField(max_length=64)
    action = serializers.ChoiceField(
        choices=[(a.value, a.value) for a in OrderAction], default=OrderAction.NEW.value
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    images_available = serializers.BooleanField(required=False, default=False)
    patient = PatientInSerializer(required=False)
    study = StudyInSerializer(required=False)

    def to_order(self) -> OrderInput:
        data = self.validated_data
        patient = None
        if "patient" in data:
            p = data["patient"]
            patient = PatientInput(
                identifiers=tuple(
                    IdentifierInput(
                        kind=i["kind"], value=i["value"], authority=i.get("authority", "")
                    )
                    for i in p["identifiers"]
                ),
                family_name=p["family_name"],
                given_name=p.get("given_name"),
                birth_date=p.get("birth_date"),
                sex=p.get("sex"),
            )
        study = None
        if "study" in data:
            s = data["study"]
            procedure = s.get("procedure", {})
            study = StudyInput(
                modality=s.get("modality"),
                procedure_text=procedure.get("text"),
                procedure_code=procedure.get("code"),
                procedure_coding_system=procedure.get("coding_system"),
                body_part=s.get("body_part"),
                priority=s.get("priority"),
                clinical_question=s.get("clinical_question"),
                referring_physician=s.get("referring_physician"),
                ordered_at=s.get("ordered_at"),
                study_instance_uid=s.get("study_instance_uid"),
                placer_order_number=s.get("placer_order_number"),
                filler_order_number=s.get("filler_order_number"),
            )
        return OrderInput(
            accession_number=data["accession_number"],
            action=OrderAction(data["action"]),
            patient=patient,
            study=study,
            images_available=data["images_available"],
            reason=data["reason"],
        )


class SiteRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class IdentifierOutSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()
    authority = serializers.CharField()


class PatientOutSerializer(serializers.Serializer):
    """The patient of one study (the serializer's instance is the study): the demographics as
    this study shows them (Study.shown_patient), and the identifiers the caller may see, as the
    view prefetched them (api._with_identifiers)."""

    id = serializers.IntegerField(source="patient_id")
    family_name = serializers.CharField(source="shown_patient.family_name")
    given_name = serializers.CharField(source="shown_patient.given_name")
    birth_date = serializers.DateField(source="shown_patient.birth_date", allow_null=True)
    sex = serializers.CharField(source="shown_patient.sex")
    identifiers = IdentifierOutSerializer(many=True, source="visible_identifiers")


# A study as the API shows it. Its fields are declared one by one, as a ModelSerializer would
# build them from Study (the same answer and schema; a comment, not a docstring, which would be
# the schema's description): a ModelSerializer builds them anew from the model for every
# instance, which cost "read next" more than its query.
class LowValueFlagOutSerializer(serializers.Serializer):
    rule_name = serializers.CharField(
        allow_null=True, help_text="The flagging rule's name; null if the rule was deleted."
    )
    text = serializers.CharField(help_text="The rule's text as it read when the order was flagged.")


@extend_schema_field(OpenApiTypes.STR)
class WorklistCodeField(serializers.SlugRelatedField):
    """The worklist's code. Declared, as the serializer has no model to derive its type from."""


class StudyOutSerializer(serializers.Serializer):
    # as ModelSerializer maps Study's BigAutoField (newer than the type stubs)
    id = serializers.BigIntegerField(label="ID", read_only=True)  # type: ignore[attr-defined]
    site = SiteRefSerializer()
    accession_number = serializers.CharField(max_length=64)
    placer_order_number = serializers.CharField(allow_blank=True, max_length=199, required=False)
    filler_order_number = serializers.CharField(allow_blank=True, max_length=199, required=False)
    study_instance_uid = serializers.CharField(allow_blank=True, max_length=64, required=False)
    patient = PatientOutSerializer(source="*")
    modality = serializers.ChoiceField(choices=Modality.choices)
    body_part = serializers.CharField(allow_blank=True, max_length=64, required=False)
    procedure = serializers.SerializerMethodField()
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    clinical_question = serializers.CharField(
        allow_blank=True, required=False, style={"base_template": "textarea.html"}
    )
    referring_physician = serializers.CharField(allow_blank=True, max_length=200, required=False)
    status = serializers.ChoiceField(choices=StudyStatus.choices, required=False)
    status_changed_at = serializers.DateTimeField()
    ordered_at = serializers.DateTimeField()
    ready_at = serializers.DateTimeField(allow_null=True, required=False)
    deadline = serializers.DateTimeField(allow_null=True, required=False)
    deadline_risk = serializers.SerializerMethodField()
    worklist = WorklistCodeField(slug_field="code", read_only=True)
    is_unclassified = serializers.BooleanField(required=False)
    work_units = serializers.DecimalField(decimal_places=2, max_digits=5, required=False)
    viewer_url = serializers.SerializerMethodField()
    low_value_flag = serializers.SerializerMethodField(
        help_text="The low-value referral flag set at intake (docs/low-value-referrals.md); "
        "null for an order no rule flagged."
    )

    def get_procedure(self, study: Study) -> dict[str, str]:
        return {
            "code": study.procedure_code,
            "text": study.procedure_text,
            "coding_system": study.procedure_coding_system,
        }

    def get_deadline_risk(self, study: Study) -> str:
        return study.deadline_risk(self.context.get("now") or timezone.now())

    @extend_schema_field(LowValueFlagOutSerializer(allow_null=True))
    def get_low_value_flag(self, study: Study) -> dict[str, str | None] | None:
        # The rule comes with the study (select_related, or the read's own join): no query here.
        if study.low_value_rule_id is None and not study.low_value_text:
            return None
        rule = study.low_value_rule
        return {"rule_name": rule.name if rule else None, "text": study.low_value_text}

    def get_viewer_url(self, study: Study) -> str:
        return study.site.viewer_url(
            study_instance_uid=study.study_instance_uid, accession_number=study.accession_number
        )


class StudyEventOutSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor = serializers.CharField(source="actor_label")
    reason = serializers.CharField()
    details = serializers.JSONField(source="data")


class StudyDetailOutSerializer(StudyOutSerializer):
    assigned_to = serializers.SerializerMethodField()
    events = StudyEventOutSerializer(many=True, source="events.all")

    def get_assigned_to(self, study: Study) -> dict[str, Any] | None:
        assignment = self.context.get("assignment")
        if assignment is None:
            return None
        return {
            "radiologist_id": assignment.radiologist_id,
            "name": assignment.radiologist.display_name,
            "since": assignment.assigned_at,
        }


class StudyListFilterSerializer(serializers.Serializer):
    status = serializers.CharField(required=False)
    site = serializers.CharField(required=False)
    worklist = serializers.CharField(required=False)
    modality = serializers.CharField(required=False)
    priority = serializers.CharField(required=False)
    unclassified = serializers.BooleanField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)

    def _validate_multi(self, value: str, allowed: list[str], name: str) -> str:
        unknown = [v for v in value.split(",") if v not in allowed]
        if unknown:
            raise serializers.ValidationError(
                f"unknown {name} {', '.join(unknown)}; one of {', '.join(allowed)}"
            )
        return value

    def validate_status(self, value: str) -> str:
        return self._validate_multi(value, StudyStatus.values, "status")

    def validate_modality(self, value: str) -> str:
        return self._validate_multi(value, Modality.values, "modality")

    def validate_priority(self, value: str) -> str:
        return self._validate_multi(value, Priority.values, "priority")


class StudyPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    results = StudyOutSerializer(many=True)


class WorklistOutSerializer(serializers.Serializer):
    code = serializers.CharField(source="worklist.code")
    name = serializers.CharField(source="worklist.name")
    is_general = serializers.BooleanField(source="worklist.is_general")
    unread_count = serializers.IntegerField()
    unclassified_count = serializers.IntegerField()
    work_units = serializers.DecimalField(max_digits=10, decimal_places=2)
    oldest_ready_at = serializers.DateTimeField(allow_null=True)
    most_urgent_deadline = serializers.DateTimeField(allow_null=True)


class MeOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()


class OrderOutSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    changed_fields = serializers.ListField(child=serializers.CharField())
    study_id = serializers.IntegerField()
    status = serializers.CharField()
    worklist = serializers.CharField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)


# Routing


class ReadingOrderTaskOutSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text='What the task is, e.g. "peer-review".')
    id = serializers.IntegerField(help_text="The task's id within its kind.")
    label = serializers.CharField(  # type: ignore[assignment] # Field.label is the field's
        help_text="What it is, in the user's language."
    )
    deadline = serializers.DateTimeField()


class ClaimedOutSerializer(serializers.Serializer):
    study = StudyOutSerializer()
    bundled_study_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="The same patient's studies claimed with it."
    )
    reading_url = serializers.CharField(help_text="Where to read it.")
    from_queue = serializers.BooleanField(
        help_text="It was already in the reader's own queue (pushed or assigned to them), "
        "and came first in reading order; false: claimed from the pool."
    )
    task = ReadingOrderTaskOutSerializer(
        allow_null=True,
        help_text="When one of the reader's tasks (a peer review) comes first in reading "
        "order: that task, opened at reading_url; ``study`` is the study it is about. Null: "
        "a study to read.",
    )


class AssignmentOutSerializer(serializers.Serializer):
    study_id = serializers.IntegerField()
    radiologist_id = serializers.IntegerField()
    kind = serializers.CharField()
    assigned_at = serializers.DateTimeField()
    reason = serializers.CharField()


class ReleaseInSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class AssignInSerializer(serializers.Serializer):
    radiologist_id = serializers.IntegerField()
    reason = serializers.CharField(max_length=500, help_text="Mandatory: why this reader.")


class StudyStatusOutSerializer(serializers.Serializer):
    study_id = serializers.IntegerField(source="id")
    status = serializers.CharField()


class AiFindingInSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text="e.g. ICH, LVO, PTX, PE, FREE_AIR")
    description = serializers.CharField(max_length=300)
    confidence = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=Decimal("0"), max_value=Decimal("1")
    )
    source = serializers.CharField(max_length=100, help_text="The AI product.")  # type: ignore[assignment]
    external_id = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default=""
    )
    reported_at = AwareDateTimeField(required=False)


class AiFindingOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    study_id = serializers.IntegerField()
    code = serializers.CharField()
    description = serializers.CharField()
    confidence = serializers.DecimalField(max_digits=4, decimal_places=3)
    is_critical = serializers.BooleanField()
    source = serializers.CharField()  # type: ignore[assignment]
    reported_at = serializers.DateTimeField()


class RoutingDecisionOutSerializer(serializers.Serializer):
    # null for a "read next" claim, whose decision is stored in its study event
    id = serializers.IntegerField(allow_null=True)
    decided_at = serializers.DateTimeField()
    mode = serializers.CharField()
    trigger = serializers.CharField()
    tier = serializers.IntegerField()
    radiologist_id = serializers.IntegerField(allow_null=True)
    trace = serializers.JSONField()
