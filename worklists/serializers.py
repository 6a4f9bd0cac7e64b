"""Shapes of the REST API. Input serializers check form; rules live in the services."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from worklists import classification, nin
from worklists.models import Modality, PatientIdentifier, Priority, Sex, Study, StudyStatus
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
)

NATIONAL_AUTHORITY = "NO-FREG"


class IdentifierInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PatientIdentifier.Kind.choices)
    value = serializers.CharField(max_length=64)
    authority = serializers.CharField(max_length=64, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["kind"]
        if kind in PatientIdentifier.NATIONAL_KINDS:
            try:
                parsed = nin.parse(attrs["value"])
            except nin.InvalidNationalIdentityNumber as exc:
                raise serializers.ValidationError({"value": f"invalid {kind}: {exc}"}) from exc
            if parsed.kind.value != kind:
                raise serializers.ValidationError(
                    {"value": f"{attrs['value']} is a {parsed.kind.value}, not a {kind}"}
                )
            attrs["value"] = parsed.value
        if not attrs.get("authority"):
            if kind == PatientIdentifier.Kind.LOCAL or kind == PatientIdentifier.Kind.H_NUMMER:
                attrs["authority"] = self.context["site_code"]
            else:
                attrs["authority"] = NATIONAL_AUTHORITY
        return attrs


class PatientInSerializer(serializers.Serializer):
    identifiers = IdentifierInSerializer(many=True, allow_empty=False)
    family_name = serializers.CharField(max_length=100)
    given_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, default=Sex.UNKNOWN)

    def validate_birth_date(self, value: Any) -> Any:
        if value is not None and value > timezone.localdate():
            raise serializers.ValidationError("cannot be in the future")
        return value


class ProcedureSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=300)
    coding_system = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default="NCRP"
    )


class StudyInSerializer(serializers.Serializer):
    modality = serializers.ChoiceField(choices=Modality.choices)
    procedure = ProcedureSerializer()
    body_part = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.ROUTINE)
    clinical_question = serializers.CharField(required=False, allow_blank=True, default="")
    referring_physician = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    ordered_at = serializers.DateTimeField()
    study_instance_uid = serializers.RegexField(
        r"^[0-9]+(\.[0-9]+)*$", max_length=64, required=False, allow_blank=True, default=""
    )


class OrderInSerializer(serializers.Serializer):
    accession_number = serializers.CharField(max_length=64)
    action = serializers.ChoiceField(
        choices=[(a.value, a.value) for a in OrderAction], default=OrderAction.NEW.value
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    images_available = serializers.BooleanField(required=False, default=False)
    patient = PatientInSerializer(required=False)
    study = StudyInSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] != OrderAction.CANCEL:
            missing = {
                name: ["required for a new or changed order"]
                for name in ("patient", "study")
                if name not in attrs
            }
            if missing:
                raise serializers.ValidationError(missing)
        return attrs

    def to_order(self) -> OrderInput:
        data = self.validated_data
        patient = None
        if "patient" in data:
            p = data["patient"]
            patient = PatientInput(
                identifiers=tuple(
                    IdentifierInput(kind=i["kind"], value=i["value"], authority=i["authority"])
                    for i in p["identifiers"]
                ),
                family_name=p["family_name"],
                given_name=p.get("given_name", ""),
                birth_date=p.get("birth_date"),
                sex=p.get("sex", Sex.UNKNOWN),
            )
        study = None
        if "study" in data:
            s = data["study"]
            study = StudyInput(
                modality=s["modality"],
                procedure_text=s["procedure"]["text"],
                procedure_code=s["procedure"]["code"],
                procedure_coding_system=s["procedure"]["coding_system"],
                body_part=s["body_part"],
                priority=s["priority"],
                clinical_question=s["clinical_question"],
                referring_physician=s["referring_physician"],
                ordered_at=s["ordered_at"],
                study_instance_uid=s["study_instance_uid"],
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
    id = serializers.IntegerField()
    family_name = serializers.CharField()
    given_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    sex = serializers.CharField()
    identifiers = IdentifierOutSerializer(many=True, source="identifiers.all")


class StudyOutSerializer(serializers.ModelSerializer):
    site = SiteRefSerializer()
    patient = PatientOutSerializer()
    procedure = serializers.SerializerMethodField()
    worklist: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    deadline_risk = serializers.SerializerMethodField()
    viewer_url = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = [
            "id",
            "site",
            "accession_number",
            "study_instance_uid",
            "patient",
            "modality",
            "body_part",
            "procedure",
            "priority",
            "clinical_question",
            "referring_physician",
            "status",
            "status_changed_at",
            "ordered_at",
            "ready_at",
            "deadline",
            "deadline_risk",
            "worklist",
            "is_unclassified",
            "work_units",
            "viewer_url",
        ]

    def get_procedure(self, study: Study) -> dict[str, str]:
        return {
            "code": study.procedure_code,
            "text": study.procedure_text,
            "coding_system": study.procedure_coding_system,
        }

    def get_deadline_risk(self, study: Study) -> str:
        return classification.deadline_risk(
            deadline=study.deadline,
            ready_at=study.ready_at,
            now=self.context.get("now") or timezone.now(),
            risk_fraction=settings.DEADLINE_RISK_FRACTION,
        )

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
    events = StudyEventOutSerializer(many=True, source="events.all")
    assigned_to = serializers.SerializerMethodField()

    class Meta(StudyOutSerializer.Meta):
        fields = [*StudyOutSerializer.Meta.fields, "assigned_to", "events"]

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


class TokenInSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenOutSerializer(serializers.Serializer):
    token = serializers.CharField()


class OrderOutSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    changed_fields = serializers.ListField(child=serializers.CharField())
    study_id = serializers.IntegerField()
    status = serializers.CharField()
    worklist = serializers.CharField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)
