"""The two database expressions the indicators need beyond Django's own: the seconds between two
moments, and a continuous percentile (linear interpolation, as PostgreSQL's percentile_cont).

PostgreSQL computes the percentile itself (``percentile_cont(f) WITHIN GROUP (ORDER BY x)``).
SQLite has none built in (the percentile extension of 3.47 is not compiled into Python's
sqlite3), so every SQLite connection gets an aggregate function of the same name and meaning,
registered the way Django registers STDDEV_POP and VAR_POP for SQLite: SQLite calls it row by
row inside the grouped query, so the rows never reach the ORM, and a group's values are the
only ones held (to sort them) while that group is aggregated.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Aggregate, Expression, F, Field, FloatField, Func, IntegerField
from django.db.models.sql.compiler import SQLCompiler

SQLITE_PERCENTILE = "TR_PERCENTILE_CONT"

SqlParams = tuple[str, list[Any] | tuple[Any, ...]]


def percentile_of_sorted(values: list[float], fraction: float) -> float | None:
    """percentile_cont of already sorted ``values``: linear interpolation between the two
    values around position fraction * (n - 1); None for no values."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    if lower == upper:
        return values[lower]
    return values[lower] + (values[upper] - values[lower]) * (position - lower)


def percentile_of_counts(counts: list[tuple[int, int]], fraction: float) -> float | None:
    """percentile_cont of the values ``counts`` holds as (value, how many) pairs sorted by
    value: the same figure as percentile_of_sorted of those values written out."""
    total = sum(many for _value, many in counts)
    if not total:
        return None
    position = fraction * (total - 1)
    lower = math.floor(position)
    low, high = _value_at(counts, lower), _value_at(counts, math.ceil(position))
    return low + (high - low) * (position - lower)


def _value_at(counts: list[tuple[int, int]], rank: int) -> int:
    """The value at ``rank`` (from 0) of the values ``counts`` writes out in order."""
    seen = 0
    for value, many in counts:
        seen += many
        if seen > rank:
            return value
    raise IndexError(f"rank {rank} of {seen} values")


class _SqlitePercentile:
    """The SQLite aggregate: collects one group's non-null values, answers percentile_cont."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value: float | None, fraction: float) -> None:
        self.fraction = fraction
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        self.values.sort()
        return percentile_of_sorted(self.values, self.fraction)


def register_sqlite_percentile(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: object
) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_PERCENTILE, 2, _SqlitePercentile)


class Percentile(Aggregate):
    """The ``fraction`` percentile (0 to 1) of ``expression`` over each group, NULLs ignored."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError(f"a percentile's fraction is between 0 and 1, not {fraction}")
        # A number we formatted ourselves, never user input: safe in the SQL text.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> SqlParams:
        return self.as_sql(
            compiler,
            connection,
            function=SQLITE_PERCENTILE,
            template="%(function)s(%(expressions)s, %(fraction)s)",
        )


class SecondsBetween(Func):
    """``end`` minus ``start`` in seconds (a float); NULL when either is NULL."""

    output_field: Field[Any, Any] = FloatField()
    arity = 2

    def __init__(self, start: Expression | F | str, end: Expression | F | str) -> None:
        super().__init__(start, end)

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> SqlParams:
        start_sql, start_params = compiler.compile(self.source_expressions[0])
        end_sql, end_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "postgresql":
            # date_part gives the double directly; EXTRACT gives a numeric (PostgreSQL 14 on)
            # to be cast, a quarter of the turnaround's cost at 200,000 rows a month
            # (docs/indicators.md, "Speed").
            sql = f"date_part('epoch', {end_sql} - {start_sql})"
        elif connection.vendor == "sqlite":
            sql = f"((julianday({end_sql}) - julianday({start_sql})) * 86400.0)"
        else:
            raise NotImplementedError(f"SecondsBetween on {connection.vendor}")
        return sql, [*end_params, *start_params]


class WholeMinutes(SecondsBetween):
    """The minutes from ``start`` to ``end``, rounded to the whole minute (a half minute up);
    NULL when either is NULL. The turnaround's unit (docs/indicators.md)."""

    output_field: Field[Any, Any] = IntegerField()

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> SqlParams:
        seconds, params = super().as_sql(compiler, connection, **extra)
        half_up = f"({seconds}) / 60.0 + 0.5"
        if connection.vendor == "postgresql":
            return f"floor({half_up})::integer", params
        if connection.vendor == "sqlite":
            # julianday's seconds are off by some microseconds (30 s may come out 29.99995):
            # to the millisecond first, so a half minute is one. floor() is not in every SQLite
            # build: a cast truncates towards zero, one less below zero where that went up.
            half_up = f"round({seconds}, 3) / 60.0 + 0.5"
            return (
                f"(CAST({half_up} AS INTEGER) - (({half_up}) < CAST({half_up} AS INTEGER)))",
                [*params, *params, *params],
            )
        raise NotImplementedError(f"WholeMinutes on {connection.vendor}")


# The sorts of one page's percentiles: the period's rows (about 200,000 a month at regional
# volume) sorted by group and each span's values sorted per group. PostgreSQL's default 4 MB
# spills them to disk (docs/indicators.md, "Speed"); this much keeps them in memory, for the
# statements of one transaction only (SET LOCAL), never the server's default.
SORT_MEMORY = "48MB"


@contextlib.contextmanager
def room_to_sort() -> Iterator[None]:
    """A read-only transaction in which PostgreSQL sorts in SORT_MEMORY (SQLite: a transaction,
    nothing else): the indicators' statements run inside it."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = %s", [SORT_MEMORY])
        yield
