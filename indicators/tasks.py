from __future__ import annotations

from celery import shared_task

from indicators.rollup import keep_closed_days


@shared_task(ignore_result=True)
def keep_closed_days_task() -> None:
    """Keep the closed days not kept yet (each day after midnight, and any day a late change
    dropped); idempotent."""
    keep_closed_days()
