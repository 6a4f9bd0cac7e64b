"""Site integrations authenticate with a per-site token: ``Authorization: Token site_...``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework.views import APIView

from worklists.models import SiteApiToken

SITE_TOKEN_PREFIX = "site_"  # noqa: S105 (a prefix, not a secret)


class SiteTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, SiteApiToken] | None:
        parts = authentication.get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].decode(errors="replace") != self.keyword:
            return None
        key = parts[1].decode(errors="replace")
        if not key.startswith(SITE_TOKEN_PREFIX):
            return None  # a personal token: the next authenticator handles it
        token = SiteApiToken.objects.select_related("site").filter(key=key).first()
        if token is None or not token.site.is_active:
            raise exceptions.AuthenticationFailed("invalid or inactive site token")
        SiteApiToken.objects.filter(id=token.id).update(last_used_at=timezone.now())
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IsSiteIntegration(permissions.BasePermission):
    message = "this endpoint takes a site integration token"

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, SiteApiToken)
