"""Fill the database with a fictional regional teleradiology service (see ``worklists.demo``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from teleradiology.embedded import browser_url
from worklists.demo import DEFAULT_STUDY_COUNT, render_summary, seed


class Command(BaseCommand):
    help = "Create a fictional demo service: sites, worklists, radiologists, users and studies."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--studies",
            type=int,
            default=DEFAULT_STUDY_COUNT,
            help=f"How many studies to create (default {DEFAULT_STUDY_COUNT}).",
        )
        parser.add_argument(
            "--history-days",
            type=int,
            default=0,
            help="Also create this many days of finished past studies with their whole event "
            "history (ending three days ago), for indicators and the capacity planner.",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo sites' studies (and orphaned demo patients) and create new ones.",
        )
        # Where `manage.py serve` will listen, so that the summary names the address to open
        # (`make run HOST=... PORT=...` passes its own).
        parser.add_argument("--host", default="127.0.0.1", help="Host the server will serve.")
        parser.add_argument("--port", type=int, default=8000, help="Port the server will serve.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run outside the embedded environment (TELERAD_ENV=production) all the same.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.TELERAD_ENV != "embedded" and not options["force"]:
            # The demo creates users with a published password (coordinator/demo).
            raise CommandError(
                f"seed_demo creates demo users with a known password and runs only with "
                f"TELERAD_ENV=embedded (this is {settings.TELERAD_ENV!r}); add --force to run it "
                "here all the same"
            )
        if options["studies"] < 0:
            raise CommandError("--studies cannot be negative")
        if options["history_days"] < 0:
            raise CommandError("--history-days cannot be negative")
        result = seed(
            studies=options["studies"],
            reset=options["reset"],
            history_days=options["history_days"],
            stdout=self.stdout,
        )
        self.stdout.write(render_summary(result, url=browser_url(options["host"], options["port"])))
