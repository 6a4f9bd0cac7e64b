"""What the viewer asked for: a period and a grouping, from a page's or the API's query string.
One parser for both, so the page, its CSV downloads and the API agree."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from django.utils.translation import gettext as _

from indicators.periods import GroupBy, Period, PeriodInvalid, period_from
from indicators.scope import Viewer

# No figure lies outside these; a date outside them (year 1, year 9999) is a mistake, and at
# the edges of the calendar its midnight in UTC could not even be computed.
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2999, 12, 31)


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    period: Period
    group_by: GroupBy

    def as_params(self) -> dict[str, str]:
        return {
            "from": self.period.first_day.isoformat(),
            "to": self.period.last_day.isoformat(),
            "group_by": self.group_by.value,
        }


def groupings_for(viewer: Viewer) -> list[GroupBy]:
    """The groupings the viewer may choose: by reader only who may see a reader's figures."""
    return [g for g in GroupBy if g is not GroupBy.READER or viewer.sees_readers]


def _day(params: Mapping[str, str], name: str) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise PeriodInvalid(
            _("%(value)s is not a date (YYYY-MM-DD)") % {"value": raw[:40]}, field=name
        ) from None
    if not EARLIEST <= day <= LATEST:
        raise PeriodInvalid(
            _("%(value)s is outside the years this platform has figures for") % {"value": raw},
            field=name,
        )
    return day


def parse_query(params: Mapping[str, str], viewer: Viewer) -> Query:
    """The period (default: the last 30 days) and grouping (default: site); PeriodInvalid
    names the input that is wrong."""
    raw_group = (params.get("group_by") or GroupBy.SITE.value).strip()
    allowed = groupings_for(viewer)
    if raw_group not in {g.value for g in allowed}:
        raise PeriodInvalid(
            _("group_by is one of %(choices)s") % {"choices": ", ".join(g.value for g in allowed)},
            field="group_by",
        )
    period = period_from(_day(params, "from"), _day(params, "to"))
    return Query(period=period, group_by=GroupBy(raw_group))
