"""Variation between sites: each site's turnaround and within-deadline share beside the
regional figure, the median over all sites (docs/indicators.md)."""

from __future__ import annotations

import statistics
from collections.abc import Set as AbstractSet
from typing import Any

# A site is marked when its median ready-to-final time is this many times the regional one or
# more, or its within-deadline share this many percentage points below the regional one or more.
SLOW_FACTOR = 1.5
SHARE_SHORTFALL = 0.10
# A viewer who sees only some sites (a reader, a site user) is shown the regional figure only
# when at least this many other sites make it: with one or two, the median would give their
# figures away (with two sites it is the mean of the viewer's and the other's).
REGIONAL_MIN_OTHER_SITES = 3


def regional(sites: dict[Any, dict[str, Any]]) -> tuple[float | None, float | None]:
    """The median over the sites of their median ready-to-final seconds, and of their
    within-deadline shares (sites without a signed study, or without deadlines, left out)."""
    medians = [row["ready_to_final_p50"] for row in sites.values()]
    shares = [
        row["within_deadline"] / row["with_deadline"]
        for row in sites.values()
        if row["with_deadline"]
    ]
    present = [m for m in medians if m is not None]
    return (
        statistics.median(present) if present else None,
        statistics.median(shares) if shares else None,
    )


def regional_for(
    site_ids: AbstractSet[int] | None, sites: dict[Any, dict[str, Any]]
) -> tuple[float | None, float | None]:
    """``regional`` as a viewer who sees ``site_ids`` (None: every site) may be shown it:
    each figure only where REGIONAL_MIN_OTHER_SITES other sites have one."""
    median, share = regional(sites)
    if site_ids is None:
        return median, share
    others = [row for key, row in sites.items() if key not in site_ids]
    with_median = sum(1 for row in others if row["ready_to_final_p50"] is not None)
    with_share = sum(1 for row in others if row["with_deadline"])
    return (
        median if with_median >= REGIONAL_MIN_OTHER_SITES else None,
        share if with_share >= REGIONAL_MIN_OTHER_SITES else None,
    )


def outlier_reasons(
    *,
    median: float | None,
    within_share: float | None,
    regional_median: float | None,
    regional_share: float | None,
) -> list[str]:
    """Why a site stands out ('slow', 'late'), empty when it does not."""
    reasons = []
    if median is not None and regional_median and median >= SLOW_FACTOR * regional_median:
        reasons.append("slow")
    if (
        within_share is not None
        and regional_share is not None
        and within_share <= regional_share - SHARE_SHORTFALL
    ):
        reasons.append("late")
    return reasons
