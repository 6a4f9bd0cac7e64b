from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from worklists.services.shifts import ShiftImportError, shifts_import


class Command(BaseCommand):
    help = (
        "Import shifts from an iCalendar (.ics) or CSV file. Every row is checked first; "
        "one bad row and nothing is imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            result = shifts_import(content=content, filename=path.name)
        except ShiftImportError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(
                f"{len(exc.errors)} error(s) in {path.name}; nothing imported"
            ) from exc
        self.stdout.write(
            f"{result.created} shift(s) created, {result.updated} updated, {result.removed} "
            f"removed from {path.name}"
        )
