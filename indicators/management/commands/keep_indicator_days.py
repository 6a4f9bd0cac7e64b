from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from indicators.periods import LONGEST_DAYS
from indicators.rollup import keep_closed_days


class Command(BaseCommand):
    help = (
        "Count the closed days not kept yet (new, or changed since) for the indicators' "
        "turnaround (docs/indicators.md, 'Closed days kept'). Celery beat does this every hour."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=LONGEST_DAYS,
            help=f"how many days back from yesterday (default {LONGEST_DAYS})",
        )

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        kept = keep_closed_days(days=days)
        self.stdout.write(f"{kept} day(s) kept")
