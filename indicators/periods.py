"""The period the indicators cover and the grouping they are shown by."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEFAULT_DAYS = 30
LONGEST_DAYS = 366


class GroupBy(enum.StrEnum):
    SITE = "site"
    MODALITY = "modality"
    WORKLIST = "worklist"
    PRIORITY = "priority"
    READER = "reader"

    @property
    def label(self) -> str:
        return str(GROUP_LABELS[self])


GROUP_LABELS = {
    GroupBy.SITE: _("Site"),
    GroupBy.MODALITY: _("Modality"),
    GroupBy.WORKLIST: _("Worklist"),
    GroupBy.PRIORITY: _("Priority"),
    GroupBy.READER: _("Reader"),
}


class PeriodInvalid(ValueError):
    """A period that cannot be shown; the message says why, the field which input."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclasses.dataclass(frozen=True, slots=True)
class Period:
    """Whole local days, first to last inclusive: [start, end) as aware datetimes."""

    first_day: dt.date
    last_day: dt.date

    @property
    def start(self) -> dt.datetime:
        return _local_midnight(self.first_day)

    @property
    def end(self) -> dt.datetime:
        return _local_midnight(self.last_day + dt.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def default_period(today: dt.date | None = None) -> Period:
    """The last 30 days, today included."""
    last = today or timezone.localdate()
    return Period(first_day=last - dt.timedelta(days=DEFAULT_DAYS - 1), last_day=last)


def period_from(first_day: dt.date | None, last_day: dt.date | None) -> Period:
    """The period the viewer asked for; what they left out comes from the default."""
    default = default_period()
    last = last_day or (first_day + dt.timedelta(days=DEFAULT_DAYS - 1) if first_day else None)
    last = last or default.last_day
    first = first_day or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise PeriodInvalid(str(_("the period ends before it begins")), field="to")
    period = Period(first_day=first, last_day=last)
    if period.days > LONGEST_DAYS:
        raise PeriodInvalid(
            str(_("a period is at most %(days)d days")) % {"days": LONGEST_DAYS}, field="to"
        )
    return period
