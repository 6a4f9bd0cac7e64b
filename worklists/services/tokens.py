"""API tokens: site integration tokens and personal tokens, stored hashed.

A secret is shown once, when it is made; afterwards only its hash and first characters exist.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from worklists.access import radiologist_loaded_with
from worklists.models import PersonalToken, Site, SiteApiToken
from worklists.models.tokens import (
    PERSONAL_TOKEN_PREFIX,
    hash_secret,
    new_secret,
    password_stamp,
)

# A token's last use is written at most this often: a burst of requests is one write.
LAST_USE_RESOLUTION = dt.timedelta(seconds=60)


class SiteTokenExists(Exception):
    """The site has a token already; its secret cannot be shown again (it is stored hashed)."""


@transaction.atomic
def site_token_issue(*, site_code: str, rotate: bool = False) -> SiteApiToken:
    """A new integration token for the site; its secret is on the returned instance's ``key``.

    Without ``rotate`` a site that already has a usable token gets none (SiteTokenExists). With
    ``rotate`` the site's current tokens keep working for ``SITE_TOKEN_ROTATION_OVERLAP_HOURS``
    more (the sender switches over without downtime), then stop.
    """
    site = Site.objects.select_for_update().get(code=site_code)
    now = timezone.now()
    current = SiteApiToken.objects.filter(site=site).usable(now=now)
    if current.exists():
        if not rotate:
            raise SiteTokenExists(site_code)
        overlap_end = now + dt.timedelta(hours=settings.SITE_TOKEN_ROTATION_OVERLAP_HOURS)
        current.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=overlap_end)).update(
            expires_at=overlap_end
        )
    return SiteApiToken.objects.create(site=site)


@transaction.atomic
def site_token_replace(*, site_code: str) -> SiteApiToken:
    """The site's tokens are deleted and a new one issued, with no overlap (the embedded demo,
    which prints its sites' tokens on every run)."""
    site = Site.objects.select_for_update().get(code=site_code)
    SiteApiToken.objects.filter(site=site).delete()
    return SiteApiToken.objects.create(site=site)


def site_token_revoke_all(*, site_code: str) -> int:
    """Every token of the site stops working now (a leaked token: rotate, then revoke the old)."""
    return SiteApiToken.objects.filter(site__code=site_code, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def site_token_authenticate(*, key: str) -> SiteApiToken | None:
    """The usable token of an active site with this secret, its last use recorded; else None."""
    now = timezone.now()
    token = (
        SiteApiToken.objects.usable(now=now)
        .select_related("site")
        .filter(key_hash=hash_secret(key), site__is_active=True)
        .first()
    )
    if token is None:
        return None
    _record_use(token, now)
    return token


def personal_token_issue(*, user_id: int, name: str = "") -> PersonalToken:
    """A new personal token for the user; its secret is on the returned instance's ``key``."""
    user = get_user_model().objects.get(pk=user_id)
    now = timezone.now()
    key = new_secret(PERSONAL_TOKEN_PREFIX)
    token = PersonalToken.objects.create(
        user=user,
        name=name[:100],
        key_hash=hash_secret(key),
        key_prefix=key[:12],
        password_stamp=password_stamp(user.password),
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.PERSONAL_TOKEN_LIFETIME_DAYS),
    )
    token.key = key
    return token


def personal_token_authenticate(*, key: str) -> PersonalToken | None:
    """The usable token with this secret, of an active user whose password has not changed since
    it was issued, its last use recorded; else None. A token found stale is revoked."""
    now = timezone.now()
    token = (
        PersonalToken.objects.usable(now=now)
        # the user's radiologist (if any) with them: access.radiologist_of needs no query then
        .select_related("user", "user__radiologist")
        .filter(key_hash=hash_secret(key))
        .first()
    )
    if token is None:
        return None
    if not token.user.is_active:
        personal_tokens_revoke_all(
            user_id=token.user_id, because=PersonalToken.RevokedBecause.DEACTIVATED
        )
        return None
    if token.password_stamp != password_stamp(token.user.password):
        personal_tokens_revoke_all(
            user_id=token.user_id, because=PersonalToken.RevokedBecause.PASSWORD_CHANGED
        )
        return None
    _record_use(token, now)
    radiologist_loaded_with(token.user)
    return token


def personal_token_revoke(*, user_id: int, token_id: int) -> bool:
    """The owner revokes one of their tokens. False when it is not theirs or already revoked."""
    changed = PersonalToken.objects.filter(
        id=token_id, user_id=user_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), revoked_because=PersonalToken.RevokedBecause.OWNER)
    return changed == 1


def personal_tokens_revoke_all(*, user_id: int, because: str) -> int:
    """Every live token of the user stops working (password changed, user deactivated)."""
    return PersonalToken.objects.filter(user_id=user_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_because=because
    )


def _record_use(token: SiteApiToken | PersonalToken, now: dt.datetime) -> None:
    if token.last_used_at is not None and now - token.last_used_at < LAST_USE_RESOLUTION:
        return
    if isinstance(token, SiteApiToken):
        SiteApiToken.objects.filter(id=token.id).update(last_used_at=now)
    else:
        PersonalToken.objects.filter(id=token.id).update(last_used_at=now)
    token.last_used_at = now
