"""Rosters to compare: a period's own, one from a schedule file, or the own one with a reader
added ("one neuro reader 18-24 on weekdays"). Pure Python over routing's plain facts; only the
label, which the page shows, is in the user's language."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from worklists import routing

ADDED_READER_ID = -1


@dataclass(frozen=True, slots=True)
class AddedReader:
    """A reader who is not on the roster: competent (primary) in ``worklist_id``, reading
    ``modalities`` for every site, on shift from ``starts`` to ``ends`` local time (``ends`` at
    or before ``starts`` runs into the next day) on ``weekdays`` (0 Monday .. 6 Sunday)."""

    worklist_id: int
    worklist_name: str
    starts: dt.time
    ends: dt.time
    weekdays: frozenset[int]
    modalities: frozenset[str]
    time_zone: str = "Europe/Oslo"

    @property
    def label(self) -> str:
        ends = "24" if self.ends == dt.time(0) else f"{self.ends:%H}"
        hours = f"{self.starts:%H}-{ends}"
        if self.weekdays == frozenset(range(5)):
            return _("+1 %(worklist)s reader %(hours)s on weekdays") % {
                "worklist": self.worklist_name,
                "hours": hours,
            }
        return _("+1 %(worklist)s reader %(hours)s on chosen days") % {
            "worklist": self.worklist_name,
            "hours": hours,
        }


def added_reader_facts(
    added: AddedReader,
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    site_ids: Iterable[int],
    site_time_zones: dict[int, str],
) -> routing.ReaderFacts:
    zone = zoneinfo.ZoneInfo(added.time_zone)
    shifts: list[routing.ShiftFacts] = []
    day = starts_at.astimezone(zone).date() - dt.timedelta(days=1)
    last = ends_at.astimezone(zone).date()
    while day <= last:
        if day.weekday() in added.weekdays:
            begin = dt.datetime.combine(day, added.starts, tzinfo=zone)
            end_day = day + dt.timedelta(days=1) if added.ends <= added.starts else day
            end = dt.datetime.combine(end_day, added.ends, tzinfo=zone)
            shifts.append(
                routing.ShiftFacts(
                    id=-(len(shifts) + 1),
                    starts_at=begin.astimezone(dt.UTC),
                    ends_at=end.astimezone(dt.UTC),
                )
            )
        day += dt.timedelta(days=1)
    credentials = tuple(
        routing.CredentialFacts(
            site_id=site_id,
            time_zone=site_time_zones.get(site_id, added.time_zone),
            valid_from=dt.date.min,
            valid_until=None,
        )
        for site_id in sorted(site_ids)
    )
    return routing.ReaderFacts(
        id=ADDED_READER_ID,
        name=added.label,
        modalities=added.modalities,
        competences={added.worklist_id: routing.PRIMARY},
        credentials=credentials,
        shifts=tuple(shifts),
    )


def with_reader(
    readers: Sequence[routing.ReaderFacts], extra: routing.ReaderFacts
) -> list[routing.ReaderFacts]:
    return [*readers, extra]
