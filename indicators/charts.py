"""Bar charts drawn on the server as SVG: no script, nothing fetched. Each bar is a group's
figure, a dashed line the regional figure, marked bars the outliers."""

from __future__ import annotations

import dataclasses

from indicators.tables import Table

WIDTH = 520
LABEL_WIDTH = 180
VALUE_WIDTH = 96
ROW_HEIGHT = 28
TOP = 8


@dataclasses.dataclass(frozen=True, slots=True)
class Bar:
    label: str
    text: str
    y: int
    width: float
    marked: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    bars: list[Bar]
    reference_x: float | None
    reference_text: str
    height: int
    width: int = WIDTH
    label_width: int = LABEL_WIDTH

    @property
    def value_x(self) -> int:
        return self.width - VALUE_WIDTH + 6

    @property
    def plot_end(self) -> int:
        return self.width - VALUE_WIDTH


def bar_chart(
    *,
    key: str,
    title: str,
    values: list[tuple[str, float | None, str, bool]],
    reference: float | None,
    reference_text: str,
    ceiling: float | None = None,
) -> Chart:
    """``values``: (label, value, the value as text, marked). Bars scale to the largest of
    the values, the reference and ``ceiling``."""
    top = max([v for _l, v, _t, _m in values if v is not None] + [reference or 0, ceiling or 0])
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    scale = span / top if top else 0.0
    bars = [
        Bar(
            label=label,
            text=text,
            y=TOP + index * ROW_HEIGHT,
            width=round((value or 0) * scale, 1),
            marked=marked,
        )
        for index, (label, value, text, marked) in enumerate(values)
    ]
    return Chart(
        key=key,
        title=title,
        bars=bars,
        reference_x=None if reference is None else round(LABEL_WIDTH + reference * scale, 1),
        reference_text=reference_text,
        height=TOP * 2 + max(len(bars), 1) * ROW_HEIGHT + 14,
    )


NO_VALUE = "\N{EN DASH}"


def _minutes_text(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:.0f} min"


def _share_text(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value * 100:.0f} %"


def site_charts(
    sites: Table, *, turnaround_title: str, deadline_title: str, regional: str
) -> list[Chart]:
    """The head of department's two questions: how fast is each site, and how often in time,
    each beside the region."""
    rows = sites.rows
    regional_p50 = rows[0]["regional_p50"] if rows else None
    regional_share = rows[0]["regional_within_deadline"] if rows else None
    return [
        bar_chart(
            key="site-turnaround",
            title=turnaround_title,
            values=[
                (
                    r["group"],
                    r["ready_to_final_p50"],
                    _minutes_text(r["ready_to_final_p50"]),
                    "slow" in r["outlier_codes"],
                )
                for r in rows
            ],
            reference=regional_p50,
            reference_text=f"{regional} {_minutes_text(regional_p50)}",
        ),
        bar_chart(
            key="site-deadline",
            title=deadline_title,
            values=[
                (
                    r["group"],
                    r["within_deadline"],
                    _share_text(r["within_deadline"]),
                    "late" in r["outlier_codes"],
                )
                for r in rows
            ],
            reference=regional_share,
            reference_text=f"{regional} {_share_text(regional_share)}",
            ceiling=1.0,
        ),
    ]


def priority_chart(priorities: Table, *, title: str) -> Chart:
    return bar_chart(
        key="priority-deadline",
        title=title,
        values=[
            (r["group"], r["within_deadline"], _share_text(r["within_deadline"]), False)
            for r in priorities.rows
        ],
        reference=None,
        reference_text="",
        ceiling=1.0,
    )
