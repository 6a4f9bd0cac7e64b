"""One shape for every figure: a table of named columns and rows of values. The page, its CSV
and the API all show the same Table, so a download holds exactly the rows on the screen."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable
from typing import Any

from django.utils.formats import number_format


@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    # "text", "count", "minutes", "share" (0..1, shown as a percentage), "number" (one
    # decimal), "ratio" (two decimals), "flag"
    kind: str = "text"
    # The label is a code whose case carries meaning (RADPEER's "2a" is not "2A"): the header
    # keeps it as written instead of the headers' capitals.
    verbatim: bool = False


@dataclasses.dataclass(slots=True)
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str = ""

    def shown_rows(self) -> list[ShownRow]:
        """The rows as the page shows them: the cells in column order, outliers marked."""
        return [
            ShownRow(
                marked=bool(row.get("outlier")),
                cells=[(column, row.get(column.key)) for column in self.columns],
            )
            for row in self.rows
        ]


@dataclasses.dataclass(frozen=True, slots=True)
class ShownRow:
    marked: bool
    cells: list[tuple[Column, Any]]


def shown_value(kind: str, value: Any) -> str:
    """A cell as the page shows it, in the page's language (bokmål writes 104,5): shares as
    whole percentages, nothing as a dash. The CSV keeps csv_value's decimal point."""
    if value is None or value == "":
        return "\N{EN DASH}" if kind != "text" else ""
    if kind == "share":
        return f"{number_format(round(value * 100), decimal_pos=0)} %"
    if kind in ("minutes", "number"):
        # number_format cuts digits off; rounded first, as the CSV's format rounds
        return number_format(round(value, 1), decimal_pos=1)
    if kind == "ratio":
        return number_format(round(value, 2), decimal_pos=2)
    return csv_value(kind, value)


def csv_value(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "share":
        return f"{value * 100:.1f}"
    if kind in ("minutes", "number"):
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "flag":
        return "1" if value else "0"
    return str(value)


def table_csv(table: Table) -> str:
    """The table as CSV: a header of the column labels (shares in percent), one line a row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"{c.label} (%)" if c.kind == "share" else c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_value(c.kind, row.get(c.key)) for c in table.columns])
    return out.getvalue()


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60.0, 1)


def share(part: int | float, whole: int | float) -> float | None:
    return None if not whole else part / whole


def keyed(rows: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """Grouped rows (dicts with a "key") by their key, the key taken out of each row."""
    found: dict[Any, dict[str, Any]] = {}
    for row in rows:
        key = row.pop("key")
        found[key] = row
    return found
