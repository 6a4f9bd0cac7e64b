"""The capacity planner: replay a past period with its own roster (scenario A, and the back-test
against what happened) and with another (scenario B: a schedule file, or the own roster with a
reader added). Reads the database, writes nothing; the command and the page call this."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from worklists import routing
from worklists.planner import selectors
from worklists.planner.results import BackTest, Outcome, hourly_queue_depth
from worklists.planner.scenarios import AddedReader, added_reader_facts, with_reader
from worklists.planner.simulate import Scenario, replay
from worklists.services.escalation import escalation_policy
from worklists.services.routing_decisions import routing_policy
from worklists.services.shifts import Horizon, shifts_parse

# Shifts after the period are replayed too, so that what arrived late in it gets read.
DRAIN = dt.timedelta(days=3)
# As often as the periodic escalation runs by default (ROUTING_ESCALATE_EVERY_SECONDS).
ESCALATE_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A roster file in a shift import format (.csv or .ics)."""

    content: bytes
    filename: str


@dataclass
class CapacityPlan:
    starts_at: dt.datetime
    ends_at: dt.datetime
    arrivals: int
    observed: Outcome
    a: Outcome
    b: Outcome | None
    backtest: BackTest
    seconds: float

    @property
    def last_day(self) -> dt.date:
        """The period's last day on the platform's clock (ends_at is the midnight after it)."""
        zone = timezone.get_default_timezone()
        return (self.ends_at.astimezone(zone) - dt.timedelta(microseconds=1)).date()


def _policy() -> routing.Policy:
    # Idleness is not replayed: a reader on shift is taken to be at work.
    return routing.Policy(queue_cap_work_units=routing_policy().queue_cap_work_units)


def capacity_plan(
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    schedule: Schedule | None = None,
    added: AddedReader | None = None,
    site_ids: set[int] | None = None,
    seed: int = 0,
) -> CapacityPlan:
    """Scenario A (the period's roster) and, given a schedule or an added reader, scenario B."""
    started = time.monotonic()
    drain_until = min(ends_at + DRAIN, dt.datetime.now(dt.UTC))
    arrivals = selectors.period_arrivals(starts_at=starts_at, ends_at=ends_at, site_ids=site_ids)
    own = selectors.period_roster(starts_at=starts_at, ends_at=drain_until)
    times = selectors.reading_times(before=drain_until)
    windows = selectors.site_coverage()

    def scenario(name: str, readers: list[routing.ReaderFacts]) -> Scenario:
        return Scenario(
            name=name,
            arrivals=arrivals,
            readers=readers,
            reading_times=times,
            policy=_policy(),
            escalation=escalation_policy(),
            coverage=windows,
            escalate_every=ESCALATE_EVERY,
            seed=seed,
        )

    a = replay(scenario(_("A: the period's own roster"), own))
    b: Outcome | None = None
    if schedule is not None:
        rows, _series = shifts_parse(
            content=schedule.content,
            filename=schedule.filename,
            horizon=Horizon(starts=starts_at, ends=drain_until),
        )
        name = _("B: roster %(file)s") % {"file": schedule.filename}
        b = replay(scenario(name, selectors.roster_from_rows(rows)))
    elif added is not None:
        extra = added_reader_facts(
            added,
            starts_at=starts_at,
            ends_at=drain_until,
            site_ids={arrival.site_id for arrival in arrivals},
            site_time_zones=selectors.site_time_zones(),
        )
        b = replay(scenario(_("B: %(reader)s") % {"reader": added.label}, with_reader(own, extra)))
    observed_reads = selectors.observed_reads(arrivals)
    observed = Outcome(
        name=_("What happened"),
        reads=observed_reads,
        horizon=a.horizon,
        queue_depth=hourly_queue_depth(observed_reads, starts_at=starts_at, ends_at=a.horizon),
        reader_names=a.reader_names,
    )
    # Compared on the studies that were signed then (not those returned or still unread).
    signed = {r.study_id for r in observed_reads if r.final_at is not None}
    replayed = Outcome(
        name=a.name, reads=[r for r in a.reads if r.study_id in signed], horizon=a.horizon
    )
    signed_then = Outcome(
        name=observed.name, reads=[r for r in observed_reads if r.final_at], horizon=a.horizon
    )
    return CapacityPlan(
        starts_at=starts_at,
        ends_at=ends_at,
        arrivals=len(arrivals),
        observed=observed,
        a=a,
        b=b,
        backtest=BackTest(observed=signed_then.by_priority(), simulated=replayed.by_priority()),
        seconds=time.monotonic() - started,
    )
