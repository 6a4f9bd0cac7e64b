"""Demo steps of the adapters: the core names none of them.

An adapter that has demo data of its own (report templates, macros, the reports of the
demo's signed studies) registers a step in its AppConfig.ready(); ``seed`` runs every step
after the studies, in the same transaction, on every run (each step must be rerunnable).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from worklists.models import Radiologist, Site, Worklist


class Output(Protocol):
    def write(self, msg: str, /) -> object: ...


@dataclass(frozen=True, slots=True)
class DemoContext:
    sites: dict[str, Site]
    subspecialties: dict[str, Worklist]
    radiologists: list[Radiologist]
    now: dt.datetime
    stdout: Output


DemoStep = Callable[[DemoContext], None]
_steps: list[DemoStep] = []


def register_demo_step(step: DemoStep) -> None:
    if step not in _steps:
        _steps.append(step)


def run_demo_steps(context: DemoContext) -> None:
    for step in _steps:
        step(context)
