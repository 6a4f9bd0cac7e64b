from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from worklists.models import Site
from worklists.services.tokens import SiteTokenExists, site_token_issue, site_token_revoke_all


class Command(BaseCommand):
    help = (
        "Create a site's integration token for the REST API and print its secret (shown only "
        "now: it is stored hashed). --rotate makes a new one while the old one keeps working for "
        "SITE_TOKEN_ROTATION_OVERLAP_HOURS; --revoke stops every token of the site at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site_code")
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--rotate",
            action="store_true",
            help="Issue a new token; the current one stops working after the overlap.",
        )
        group.add_argument(
            "--revoke", action="store_true", help="Revoke every token of the site now."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["site_code"]
        if not Site.objects.filter(code=code).exists():
            known = ", ".join(Site.objects.values_list("code", flat=True)) or "none yet"
            raise CommandError(f"no site with code {code!r} (known: {known})")
        if options["revoke"]:
            count = site_token_revoke_all(site_code=code)
            self.stderr.write(f"Revoked {count} token(s) of {code}.")
            return
        try:
            token = site_token_issue(site_code=code, rotate=options["rotate"])
        except SiteTokenExists as exc:
            raise CommandError(
                f"site {code!r} has a token already; it is stored hashed and cannot be shown "
                "again. Use --rotate for a new one."
            ) from exc
        if options["rotate"]:
            self.stderr.write(
                f"New token for {code}; the previous one works for "
                f"{settings.SITE_TOKEN_ROTATION_OVERLAP_HOURS:g} more hour(s)."
            )
        else:
            self.stderr.write(f"Created a new token for {code} (shown only now).")
        self.stdout.write(token.key)
