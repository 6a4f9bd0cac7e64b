from typing import Any

from django import template

from indicators.tables import Column, shown_value

register = template.Library()


@register.filter
def shown(value: Any, column: Column) -> str:
    return shown_value(column.kind, value)
