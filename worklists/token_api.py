"""Personal API tokens over the API: exchange a password (and second factor) for a token, list
one's own tokens, revoke one. Failed exchanges count towards the sign-in lock-out (django-axes)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from worklists.models import PersonalToken
from worklists.services.signin import (
    second_factor_enrolled,
    second_factor_required,
    second_factor_verify,
)
from worklists.services.tokens import personal_token_issue, personal_token_revoke


class TokenInSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A code from the authenticator app (or a recovery code), where the account "
        "signs in with a second factor.",
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)


class TokenOutSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown only now: the platform keeps only its hash.")
    id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class TokenListOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(source="key_prefix")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    revoked_because = serializers.CharField()


def _refused(message: str) -> Response:
    return Response({"errors": {"non_field_errors": [message]}}, status=status.HTTP_400_BAD_REQUEST)


class AuthTokenApi(APIView):
    """A person exchanges username and password (and their second factor) for a new token."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(request=TokenInSerializer, responses=TokenOutSerializer)
    def post(self, request: Request) -> Response:
        serializer = TokenInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # The Django request: the lock-out reads and marks it (AxesMiddleware answers 429).
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            return _refused("wrong username or password")
        if second_factor_required(user):
            if not second_factor_enrolled(user_id=user.pk):
                return _refused(
                    "this account signs in with a second factor: set it up by logging in on "
                    "the web first"
                )
            if second_factor_verify(user=user, code=data.get("otp", "")) is None:
                return _refused("a valid code from your authenticator app is required (otp)")
        token = personal_token_issue(user_id=user.pk, name=data.get("name", ""))
        return Response(
            TokenOutSerializer(
                {"token": token.key, "id": token.id, "expires_at": token.expires_at}
            ).data
        )


class OwnTokensApi(APIView):
    """The caller's own personal tokens (never their secrets)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=TokenListOutSerializer(many=True))
    def get(self, request: Request) -> Response:
        tokens = PersonalToken.objects.filter(user=request.user.pk).order_by("-created_at")
        return Response(TokenListOutSerializer(tokens, many=True).data)


class OwnTokenApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        user_id = request.user.pk
        assert isinstance(user_id, int)
        if not personal_token_revoke(user_id=user_id, token_id=token_id):
            return Response({"detail": "No such token of yours."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
