from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from worklists.models import Site, SiteApiToken


@transaction.atomic
def site_token_get_or_create(*, site_code: str, rotate: bool = False) -> tuple[SiteApiToken, bool]:
    """The site's integration token; a new key when ``rotate`` (the old one stops working)."""
    site = Site.objects.get(code=site_code)
    token, created = SiteApiToken.objects.select_for_update().get_or_create(site=site)
    if rotate and not created:
        token.delete()
        token = SiteApiToken.objects.create(site=site)
        created = True
    return token, created


def personal_token_get_or_create(*, user_id: int) -> Token:
    token, _created = Token.objects.get_or_create(user_id=user_id)
    return token
