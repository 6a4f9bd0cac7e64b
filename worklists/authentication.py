"""API authentication by token: ``Authorization: Token site_...`` for a site's integration,
``Authorization: Token pt_...`` for a person. Both are stored hashed (models/tokens.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework.views import APIView

from worklists.models import PersonalToken, SiteApiToken
from worklists.models.tokens import SITE_TOKEN_PREFIX
from worklists.services.tokens import personal_token_authenticate, site_token_authenticate


def _token_from_header(request: Request, keyword: str) -> str | None:
    parts = authentication.get_authorization_header(request).split()
    if len(parts) != 2 or parts[0].decode(errors="replace") != keyword:
        return None
    return parts[1].decode(errors="replace")


class SiteTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, SiteApiToken] | None:
        key = _token_from_header(request, self.keyword)
        if key is None or not key.startswith(SITE_TOKEN_PREFIX):
            return None  # a personal token: the next authenticator handles it
        token = site_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("invalid, expired or inactive site token")
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, PersonalToken] | None:
        key = _token_from_header(request, self.keyword)
        if key is None or key.startswith(SITE_TOKEN_PREFIX):
            return None
        # Any other key is looked up by its hash: new ones start "pt_", tokens from before
        # hashing (migration 0013) have no prefix.
        token = personal_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IsSiteIntegration(permissions.BasePermission):
    message = "this endpoint takes a site integration token"

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, SiteApiToken)


class SiteTokenScheme(OpenApiAuthenticationExtension):
    target_class = SiteTokenAuthentication
    name = "siteToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A site integration token: `Token site_...`",
        }


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = PersonalTokenAuthentication
    name = "personalToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A personal token from POST /api/v1/auth/token: `Token pt_...`",
        }
