"""Replay a past period through the routing rules with its own roster and another, side by side,
and say how close the replay with its own roster comes to what happened (the back-test)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from worklists.models import Worklist
from worklists.planner.plan import CapacityPlan, Schedule, capacity_plan
from worklists.planner.results import Outcome
from worklists.planner.scenarios import AddedReader
from worklists.services.shifts import ShiftImportError


def _hours(raw: str) -> tuple[dt.time, dt.time]:
    try:
        start, end = (int(part) for part in raw.split("-"))
    except ValueError:
        raise CommandError(f"--add-hours must look like 18-24, not {raw!r}") from None
    if not (0 <= start <= 23 and 1 <= end <= 24):
        raise CommandError(f"--add-hours out of range: {raw!r}")
    return dt.time(start), dt.time(end % 24)


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


class Command(BaseCommand):
    help = "Replay a past period in simulated time: its own roster (A) against another (B)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", required=True, help="First day, YYYY-MM-DD (UTC).")
        parser.add_argument("--days", type=int, default=7, help="How many days (default 7).")
        parser.add_argument("--roster", help="Scenario B: a roster file (.csv or .ics).")
        parser.add_argument("--add-worklist", help="Scenario B: add a reader of this worklist.")
        parser.add_argument("--add-hours", default="18-24", help="Their hours, e.g. 18-24.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the reading-time draws.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            first = dt.date.fromisoformat(options["start"])
        except ValueError:
            raise CommandError("--start must be a date, YYYY-MM-DD") from None
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        starts_at = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
        ends_at = starts_at + dt.timedelta(days=options["days"])
        schedule = None
        added = None
        if options["roster"]:
            path = Path(options["roster"])
            schedule = Schedule(content=path.read_bytes(), filename=path.name)
        elif options["add_worklist"]:
            worklist = Worklist.objects.filter(code=options["add_worklist"]).first()
            if worklist is None:
                raise CommandError(f"no worklist {options['add_worklist']!r}")
            starts, ends = _hours(options["add_hours"])
            added = AddedReader(
                worklist_id=worklist.id,
                worklist_name=worklist.code,
                starts=starts,
                ends=ends,
                weekdays=frozenset(range(5)),
                modalities=frozenset({"CT", "MR", "CR", "DX", "US", "MG", "NM", "PT"}),
            )
        try:
            plan = capacity_plan(
                starts_at=starts_at,
                ends_at=ends_at,
                schedule=schedule,
                added=added,
                seed=options["seed"],
            )
        except ShiftImportError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(render(plan))


def render(plan: CapacityPlan) -> str:
    lines = [
        f"Period {plan.starts_at:%Y-%m-%d} to {plan.ends_at:%Y-%m-%d}: {plan.arrivals} studies "
        f"became ready; replayed in {plan.seconds:.1f} s, nothing written.",
        "",
    ]
    outcomes = [o for o in (plan.observed, plan.a, plan.b) if o is not None]
    lines.append("Turnaround ready->final, minutes (median / 90th percentile), deadline misses")
    header = f"{'priority':<16}" + "".join(f"{o.name[:30]:>34}" for o in outcomes)
    lines.append(header)
    figures = [o.by_priority() for o in outcomes]
    for row in zip(*figures, strict=True):
        cells = "".join(
            f"{_minutes(f.median_minutes):>14} / {_minutes(f.p90_minutes):>7}  miss {f.missed:>5}"
            for f in row
        )
        lines.append(f"{row[0].priority:<16}{cells}")
    lines.append("")
    lines += _work_units(outcomes)
    lines.append("")
    lines += _queue_peaks(outcomes)
    lines.append("")
    median, p90 = plan.backtest.median_error(), plan.backtest.p90_error()
    lines.append(
        "Back-test (scenario A against what happened, on the studies signed then): "
        f"median turnaround error {_share(median)}, 90th percentile error {_share(p90)}"
    )
    for priority in ("STAT", "URGENT", "CANCER_PATHWAY", "ROUTINE"):
        lines.append(
            f"  {priority:<16} median {_share(plan.backtest.median_error(priority))}, "
            f"90th percentile {_share(plan.backtest.p90_error(priority))}"
        )
    return "\n".join(lines) + "\n"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0%}"


def _work_units(outcomes: list[Outcome]) -> list[str]:
    lines = ["Work units signed per reader"]
    for outcome in outcomes:
        units = outcome.work_units_by_reader()
        top = ", ".join(
            f"{outcome.reader_names.get(rid, rid)} {wu}" for rid, wu in list(units.items())[:8]
        )
        lines.append(f"  {outcome.name}: {len(units)} readers; {top}")
    return lines


def _queue_peaks(outcomes: list[Outcome]) -> list[str]:
    lines = ["Queue depth per hour (studies ready, not yet opened): mean, peak at"]
    for outcome in outcomes:
        depth = outcome.queue_depth
        if not depth:
            continue
        mean = sum(d for _h, d in depth) / len(depth)
        peak_hour, peak = max(depth, key=lambda item: item[1])
        lines.append(
            f"  {outcome.name}: mean {mean:.1f}, peak {peak} at {peak_hour:%Y-%m-%d %H:%M}"
        )
    return lines
