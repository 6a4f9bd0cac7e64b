"""Shapes of the macro API. Input serializers check form; the rules live in the services."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reports.models import Macro
from reports.services.macros import MAX_DESCRIPTION_CHARS, MAX_TEXT_CHARS, may_edit_macro
from worklists.models import Worklist


class MacroOutSerializer(serializers.ModelSerializer[Macro]):
    scope = serializers.SerializerMethodField(help_text="personal or shared")
    worklist: serializers.SlugRelatedField[Worklist] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text="The worklist a shared macro belongs to."
    )
    editable = serializers.SerializerMethodField(help_text="Whether the caller may change it.")

    class Meta:
        model = Macro
        fields = ["id", "name", "text", "description", "scope", "worklist", "editable"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_scope(self, macro: Macro) -> str:
        return "personal" if macro.owner_id is not None else "shared"

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_editable(self, macro: Macro) -> bool:
        return may_edit_macro(user=self.context["user"], macro=macro)


class MacroInSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=40, help_text="One lowercase word, typed after the trigger (e.g. normal)."
    )
    text = serializers.CharField(max_length=MAX_TEXT_CHARS, trim_whitespace=False)
    description = serializers.CharField(
        max_length=MAX_DESCRIPTION_CHARS, allow_blank=True, required=False, default=""
    )


class MacroCreateSerializer(MacroInSerializer):
    worklist = serializers.SlugField(
        required=False,
        help_text="A worklist's code to share the macro there (coordinators only); "
        "without it the macro is the caller's own.",
    )
