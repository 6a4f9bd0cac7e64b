"""Durations the coordinator's console shows: how long ago, in the words of the countdowns."""

from __future__ import annotations

import datetime as dt

from django import template

from worklists.console.selectors import alert_kind_label
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
