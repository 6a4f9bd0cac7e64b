"""API tokens are stored as the SHA-256 of their secret: a copy of the database gives no access.

The secrets are 256 random bits, so a plain (unsalted, fast) hash is enough: there is nothing to
guess, and the hash can be an indexed column that a request looks up directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

SITE_TOKEN_PREFIX = "site_"  # noqa: S105 (a prefix, not a secret)
PERSONAL_TOKEN_PREFIX = "pt_"  # noqa: S105


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def password_stamp(password_hash: str) -> str:
    """A short fingerprint of the user's stored password hash: a token issued under one password
    stops working when the password changes, wherever it is changed (page, admin, command)."""
    return hashlib.sha256(("token-password-stamp:" + password_hash).encode()).hexdigest()[:32]


class PersonalTokenQuerySet(models.QuerySet["PersonalToken"]):
    def usable(self, *, now: dt.datetime) -> PersonalTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class PersonalToken(models.Model):
    """A person's API token (``Authorization: Token pt_...``), with an expiry, its last use and
    revocation by its owner. Only the hash of the secret is stored."""

    class RevokedBecause(models.TextChoices):
        OWNER = "owner", _("Revoked by its owner")
        PASSWORD_CHANGED = "password", _("Password changed")
        DEACTIVATED = "deactivated", _("User deactivated")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=12, blank=True)
    password_stamp = models.CharField(max_length=32)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_because = models.CharField(max_length=16, choices=RevokedBecause.choices, blank=True)

    objects = PersonalTokenQuerySet.as_manager()

    # The secret, only on an instance just issued (never stored).
    key: str = ""

    class Meta:
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                name="personal_token_live_by_user",
                condition=Q(revoked_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.key_prefix}… of user {self.user_id}"
