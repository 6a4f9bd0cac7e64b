from __future__ import annotations

from django import template

from reports.services.macros import MACRO_TRIGGER

register = template.Library()


@register.simple_tag
def macro_trigger() -> str:
    """What the reader types before a macro's name (one constant for server and editor)."""
    return MACRO_TRIGGER
