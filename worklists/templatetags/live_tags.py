"""Labels that live pages render on the server and then keep current in the browser
(static/js/live.js formats them the same way)."""

from __future__ import annotations

import datetime as dt

from django import template

from worklists import selectors
from worklists.models import Study

register = template.Library()


def _span(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


@register.filter
def countdown(deadline: dt.datetime | None, now: dt.datetime) -> str:
    """ "in 12 min", "in 2 h 5 min", "overdue by 3 min": as live.js writes it each tick."""
    if deadline is None:
        return ""
    seconds = (deadline - now).total_seconds()
    if seconds >= 0:
        return f"in {_span(int(seconds // 60))}"
    return f"overdue by {_span(int(-seconds // 60))}"


@register.filter
def reading_order_key(study: Study) -> str:
    return selectors.reading_order_key(study)


@register.filter
def study_list_order_key(study: Study) -> str:
    return selectors.study_list_order_key(study)
