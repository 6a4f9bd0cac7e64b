"""What the coordinator's console shows in words: how long ago (as the countdowns say it), an
alert's kind, and why the routing rules pass a reader over."""

from __future__ import annotations

import datetime as dt

from django import template

from worklists.console.selectors import alert_kind_label, alert_message_shown
from worklists.models import CoordinatorAlert
from worklists.routing_reasons import exclusion_reason_shown
from worklists.templatetags.live_tags import _span

register = template.Library()


@register.filter
def span_since(then: dt.datetime | None, now: dt.datetime) -> str:
    """ "14 min", "2 h 5 min" since ``then``; empty without a time."""
    if then is None:
        return ""
    return _span(max(0, int((now - then).total_seconds() // 60)))


@register.filter
def percent(share: float | None) -> int | None:
    return None if share is None else round(share * 100)


@register.filter
def alert_kind(kind: str) -> str:
    return alert_kind_label(kind)


@register.filter
def alert_message(alert: CoordinatorAlert) -> str:
    return alert_message_shown(alert)


@register.filter
def routing_reason(reason: str) -> str:
    """A reason of the routing rules in the page's language."""
    return exclusion_reason_shown(reason)
