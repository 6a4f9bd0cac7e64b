"""Signing in beyond the password: the second factor (enrol, verify), the lock-out answer, the
account page, password change and the owner's personal API tokens. Thin views over
worklists/services/signin.py and worklists/services/tokens.py."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import LoginView, PasswordChangeView
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from worklists.hooks import home_page_for
from worklists.models import PersonalToken
from worklists.services.signin import (
    recovery_codes_left,
    recovery_codes_renew,
    second_factor_enrol_confirm,
    second_factor_enrol_start,
    second_factor_enrolled,
    second_factor_required,
    second_factor_verify,
)
from worklists.services.tokens import (
    personal_token_issue,
    personal_token_revoke,
    personal_tokens_revoke_all,
)


def _uid(request: HttpRequest) -> int:
    pk = request.user.pk
    assert isinstance(pk, int)  # behind login_required
    return pk


def _is_verified(request: HttpRequest) -> bool:
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


class SecondFactorMiddleware:
    """A user who must sign in with a second factor and has not yet done so in this session sees
    only the second-factor page (enrolment the first time), the login page and logout."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            settings.SIGNIN_SECOND_FACTOR_REQUIRED
            and request.user.is_authenticated
            and not _is_verified(request)
            and not self._exempt(request.path)
            and second_factor_required(request.user)
        ):
            if request.path.startswith("/api/") and not request.path.startswith("/api/docs/"):
                return JsonResponse(
                    {"detail": "Sign in with your second factor first (the web login)."},
                    status=403,
                )
            target = reverse("second-factor")
            return redirect(f"{target}?next={quote(request.get_full_path())}")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        exempt = (reverse("second-factor"), reverse("login"), reverse("logout"))
        return path in exempt or path.startswith("/" + settings.STATIC_URL.lstrip("/"))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer once an account or address is locked out (AXES_LOCKOUT_CALLABLE)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _(
        "Too many failed sign-ins. Signing in is locked for %(minutes)s minutes for this account "
        "and this address."
    ) % {"minutes": minutes}
    if request.path.startswith("/api/"):
        return JsonResponse({"errors": {"non_field_errors": [message]}}, status=429)
    return render(
        request, "account/locked_out.html", {"message": message, "minutes": minutes}, status=429
    )


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@login_required
@require_http_methods(["GET", "POST"])
def second_factor_page(request: HttpRequest) -> HttpResponse:
    """Verify the second factor; the first time, enrol an authenticator app."""
    user = request.user
    next_url = _safe_next(request, reverse(settings.LOGIN_REDIRECT_URL))
    if not second_factor_enrolled(user_id=_uid(request)):
        return _enrol(request, next_url)
    error = ""
    if request.method == "POST":
        device = second_factor_verify(user=user, code=request.POST.get("code", ""))  # type: ignore[arg-type]
        if device is not None:
            django_otp.login(request, device)
            left = recovery_codes_left(user_id=_uid(request))
            if left <= 3:
                messages.warning(
                    request,
                    ngettext(
                        "%(left)s recovery code left: make new ones on your account page.",
                        "%(left)s recovery codes left: make new ones on your account page.",
                        left,
                    )
                    % {"left": left},
                )
            return redirect(next_url)
        error = _("That code is not valid (or was used already). Try the next one from the app.")
    return render(request, "account/second_factor_verify.html", {"next": next_url, "error": error})


def _enrol(request: HttpRequest, next_url: str) -> HttpResponse:
    device = second_factor_enrol_start(user_id=_uid(request))
    error = ""
    if request.method == "POST":
        enrolled = second_factor_enrol_confirm(
            user_id=_uid(request), code=request.POST.get("code", "")
        )
        if enrolled is not None:
            django_otp.login(request, enrolled.device)
            return render(
                request,
                "account/recovery_codes.html",
                {"codes": enrolled.recovery_codes, "next": next_url, "first_time": True},
            )
        error = _("That code does not match. Check the time on your phone and try the next code.")
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    return render(
        request,
        "account/second_factor_enrol.html",
        {
            "qr_svg": _qr_svg(device.config_url),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "next": next_url,
            "error": error,
        },
    )


@login_required
def account_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "account/account.html",
        {
            "enrolled": second_factor_enrolled(user_id=_uid(request)),
            "verified": _is_verified(request),
            "required": second_factor_required(user),
            "recovery_left": recovery_codes_left(user_id=_uid(request)),
            "live_tokens": PersonalToken.objects.filter(
                user_id=_uid(request), revoked_at__isnull=True
            ).count(),
        },
    )


@login_required
@require_POST
def recovery_codes_renew_view(request: HttpRequest) -> HttpResponse:
    if not _is_verified(request):
        messages.error(request, _("Sign in with your second factor before making new codes."))
        return redirect("account")
    codes = recovery_codes_renew(user_id=_uid(request))
    return render(
        request,
        "account/recovery_codes.html",
        {"codes": codes, "next": reverse("account"), "first_time": False},
    )


class SignIn(LoginView):
    """Django's sign-in, landing each user on their home page: a site's staff on the page an
    adapter registered for them (the site portal), everyone else on the worklist."""

    def get_default_redirect_url(self) -> str:
        return home_page_for(self.request.user) or super().get_default_redirect_url()


class PasswordChange(PasswordChangeView):
    """Every user changes their own password here; it revokes their personal API tokens (the
    session stays signed in)."""

    template_name = "account/password_change.html"
    success_url = reverse_lazy("account")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        revoked = personal_tokens_revoke_all(
            user_id=_uid(self.request), because=PersonalToken.RevokedBecause.PASSWORD_CHANGED
        )
        changed = _("Your password was changed.")
        if revoked:
            changed += " " + ngettext(
                "%(count)s API token revoked.", "%(count)s API tokens revoked.", revoked
            ) % {"count": revoked}
        messages.success(self.request, changed)
        return response


@login_required
@require_http_methods(["GET", "POST"])
def tokens_page(request: HttpRequest) -> HttpResponse:
    """The owner's personal API tokens: issue one (its secret shown once), see last use, revoke."""
    issued = None
    if request.method == "POST":
        issued = personal_token_issue(user_id=_uid(request), name=request.POST.get("name", ""))
    tokens = PersonalToken.objects.filter(user_id=_uid(request)).order_by("-created_at")
    return render(
        request,
        "account/tokens.html",
        {
            "tokens": tokens,
            "issued": issued,
            "lifetime_days": settings.PERSONAL_TOKEN_LIFETIME_DAYS,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    if personal_token_revoke(user_id=_uid(request), token_id=token_id):
        messages.success(request, _("Token revoked."))
    else:
        messages.error(request, _("No such token of yours, or it was revoked already."))
    return redirect("account-tokens")
