"""Labels that live pages render on the server and then keep current in the browser
(static/js/live.js formats them the same way)."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import gettext as _

from worklists import selectors
from worklists.hooks import ReadingOrderTask
from worklists.models import Study

register = template.Library()


def _span(minutes: int) -> str:
    if minutes < 60:
        return _("%(minutes)s min") % {"minutes": minutes}
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        if rest:
            return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": rest}
        return _("%(hours)s h") % {"hours": hours}
    return _("%(days)s d %(hours)s h") % {"days": hours // 24, "hours": hours % 24}


@register.filter
def countdown(deadline: dt.datetime | None, now: dt.datetime) -> str:
    """ "in 12 min", "in 2 h 5 min", "overdue by 3 min": as live.js writes it each tick."""
    if deadline is None:
        return ""
    seconds = (deadline - now).total_seconds()
    if seconds >= 0:
        return _("in %(span)s") % {"span": _span(int(seconds // 60))}
    return _("overdue by %(span)s") % {"span": _span(int(-seconds // 60))}


@register.filter
def reading_order_key(study: Study) -> str:
    return selectors.reading_order_key(study)


@register.filter
def task_reading_order_key(task: ReadingOrderTask) -> str:
    return selectors.task_reading_order_key(task)


@register.filter
def study_list_order_key(study: Study) -> str:
    return selectors.study_list_order_key(study)
