from __future__ import annotations

from typing import Any

from rest_framework import serializers

from indicators.periods import GroupBy


class IndicatorsQuerySerializer(serializers.Serializer):
    """The query string (documentation for the schema; indicators.query parses it)."""

    to = serializers.DateField(required=False, help_text="Last day, inclusive (default: today).")
    group_by = serializers.ChoiceField(
        choices=[g.value for g in GroupBy],
        required=False,
        help_text="Grouping of the per-group tables (default: site; reader only for those "
        "who may see readers' figures).",
    )

    def get_fields(self) -> dict[str, Any]:
        # "from" is a Python keyword: declared here rather than as a class attribute.
        return {
            "from": serializers.DateField(
                required=False, help_text="First day (default: 29 days before the last)."
            ),
            **super().get_fields(),
        }


class ColumnOutSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    kind = serializers.ChoiceField(
        choices=["text", "count", "minutes", "share", "number", "ratio", "flag"],
        help_text="minutes: a duration in minutes; share: a fraction from 0 to 1.",
    )


class TableOutSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    note = serializers.CharField()
    columns = ColumnOutSerializer(many=True)
    rows = serializers.ListField(
        child=serializers.DictField(),
        help_text="One object per row, keyed by the columns' keys (the same rows as the page "
        "and its CSV).",
    )


class IndicatorsOutSerializer(serializers.Serializer):
    first_day = serializers.DateField(source="period.first_day")
    last_day = serializers.DateField(source="period.last_day")
    group_by = serializers.CharField()
    tables = TableOutSerializer(many=True)
