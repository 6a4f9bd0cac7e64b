"""Sections other apps add to the indicators page, its CSV and its API (a hook: indicators
imports none of the apps that plug in; they register in their AppConfig.ready).

A section gives tables (indicators.tables.Table, the one shape of every figure) for a viewer and
a period, scoped by the viewer as the page's own tables are (indicators.scope.Viewer), and a
template the page includes to show them under a heading of its own. Its tables join the
result's: the CSV downloads and the API carry them like any other."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from indicators.periods import Period
from indicators.scope import Viewer
from indicators.tables import Table


@dataclasses.dataclass(frozen=True, slots=True)
class Section:
    name: str
    tables: Callable[[Viewer, Period], list[Table]]
    template: str  # included with ``section_tables`` (its tables) and the page's context
    table_keys: frozenset[str]  # the keys of the tables it may give


@dataclasses.dataclass(frozen=True, slots=True)
class ShownSection:
    template: str
    tables: list[Table]


_sections: dict[str, Section] = {}


def register_section(section: Section) -> None:
    """Idempotent by name (ready() may run twice in tests)."""
    _sections[section.name] = section


def section_tables(viewer: Viewer, period: Period) -> list[Table]:
    """Every registered section's tables, in registration order."""
    return [table for section in _sections.values() for table in section.tables(viewer, period)]


def is_section_table(key: str) -> bool:
    return any(key in section.table_keys for section in _sections.values())


def shown_sections(tables: list[Table]) -> list[ShownSection]:
    """The sections to include on the page, each with its tables of ``tables``."""
    shown = []
    for section in _sections.values():
        mine = [table for table in tables if table.key in section.table_keys]
        if mine:
            shown.append(ShownSection(template=section.template, tables=mine))
    return shown
