"""The planner page's figures, shaped for the template: rows side by side and an SVG chart."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.formats import date_format

from worklists.models.choices import Priority
from worklists.planner.plan import CapacityPlan
from worklists.planner.results import Outcome

CHART_WIDTH = 960
CHART_HEIGHT = 180
SERIES_CLASSES = ("chart-observed", "chart-a", "chart-b")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str
    points: str
    peak: int


@dataclass(frozen=True, slots=True)
class Chart:
    series: list[Series]
    top: int
    hours: int
    ticks: list[tuple[float, str]]


def outcomes(plan: CapacityPlan) -> list[Outcome]:
    return [o for o in (plan.observed, plan.a, plan.b) if o is not None]


def priority_rows(plan: CapacityPlan) -> list[dict[str, object]]:
    figures = [o.by_priority() for o in outcomes(plan)]
    return [
        {"priority": row[0].priority, "label": _priority_label(row[0].priority), "cells": list(row)}
        for row in zip(*figures, strict=True)
    ]


def _priority_label(priority: str) -> str:
    # "ALL" is the template's own row; every other is a Priority value, shown by its label.
    return priority if priority == "ALL" else str(Priority(priority).label)


def reader_rows(plan: CapacityPlan) -> list[dict[str, object]]:
    shown = outcomes(plan)
    totals = [o.work_units_by_reader() for o in shown]
    names: dict[int, str] = {}
    for outcome in shown:
        names.update(outcome.reader_names)
    ids = sorted({rid for t in totals for rid in t}, key=lambda rid: names.get(rid, str(rid)))
    return [
        {"name": names.get(rid, str(rid)), "cells": [t.get(rid) for t in totals]} for rid in ids
    ]


def percent(value: float | None) -> str:
    return "\N{EN DASH}" if value is None else f"{value:+.0%}"


def queue_chart(plan: CapacityPlan) -> Chart:
    shown = outcomes(plan)
    top = max((d for o in shown for _h, d in o.queue_depth), default=0) or 1
    hours = max((len(o.queue_depth) for o in shown), default=1)
    step = CHART_WIDTH / max(hours - 1, 1)
    series = []
    for outcome, css in zip(shown, SERIES_CLASSES, strict=False):
        points = " ".join(
            f"{i * step:.1f},{CHART_HEIGHT - depth / top * CHART_HEIGHT:.1f}"
            for i, (_hour, depth) in enumerate(outcome.queue_depth)
        )
        peak = max((d for _h, d in outcome.queue_depth), default=0)
        series.append(Series(outcome.name, css, points, peak))
    first = shown[0].queue_depth if shown and shown[0].queue_depth else []
    # The weekday in the page's language ("lør 28.11"), not strftime's C locale.
    ticks = [
        (i * step, date_format(hour, "D d.m"))
        for i, (hour, _d) in enumerate(first)
        if hour.hour == 0
    ]
    return Chart(series=series, top=top, hours=hours, ticks=ticks)
