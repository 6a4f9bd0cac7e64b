from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from worklists.models import Site
from worklists.services.tokens import site_token_get_or_create


class Command(BaseCommand):
    help = "Create or show a site's integration token for the REST API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site_code")
        parser.add_argument(
            "--rotate", action="store_true", help="Replace the token; the old one stops working."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token, created = site_token_get_or_create(
                site_code=options["site_code"], rotate=options["rotate"]
            )
        except Site.DoesNotExist as exc:
            known = ", ".join(Site.objects.values_list("code", flat=True)) or "none yet"
            raise CommandError(
                f"no site with code {options['site_code']!r} (known: {known})"
            ) from exc
        if created:
            self.stderr.write(f"Created a new token for {token.site.code}.")
        self.stdout.write(token.key)
