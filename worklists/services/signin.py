"""The second factor: a TOTP authenticator app, with one-time recovery codes (django-otp)."""

from __future__ import annotations

from dataclasses import dataclass

import django_otp
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from worklists.access import is_coordinator, radiologist_of

AUTHENTICATOR_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


def second_factor_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Coordinators, radiologists and staff sign in with a second factor, where it is required."""
    if not settings.SIGNIN_SECOND_FACTOR_REQUIRED or not user.is_authenticated:
        return False
    return (
        bool(getattr(user, "is_staff", False))
        or is_coordinator(user)
        or radiologist_of(user) is not None
    )


def second_factor_enrolled(*, user_id: int) -> bool:
    return TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists()


def second_factor_enrol_start(*, user_id: int) -> TOTPDevice:
    """The user's authenticator device waiting to be confirmed (made once, kept until then)."""
    device = TOTPDevice.objects.filter(user_id=user_id, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user_id=user_id, name=AUTHENTICATOR_NAME, confirmed=False
        )
    return device


@dataclass(frozen=True)
class Enrolled:
    device: TOTPDevice
    recovery_codes: list[str]


@transaction.atomic
def second_factor_enrol_confirm(*, user_id: int, code: str) -> Enrolled | None:
    """The first code from the app confirms the device; recovery codes are made (shown once).
    None when the code is wrong."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user_id=user_id, confirmed=False)
        .order_by("-id")
        .first()
    )
    if device is None or not device.verify_token(code.strip()):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=user_id, confirmed=False).delete()
    return Enrolled(device=device, recovery_codes=recovery_codes_renew(user_id=user_id))


@transaction.atomic
def recovery_codes_renew(*, user_id: int) -> list[str]:
    """A new set of recovery codes; the old ones stop working."""
    device, _created = StaticDevice.objects.get_or_create(
        user_id=user_id, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.SIGNIN_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def second_factor_verify(*, user: AbstractBaseUser, code: str) -> Device | None:
    """The device that accepts ``code``: the authenticator's current code, or a recovery code
    (used up by this). None when no device accepts it (each device throttles its failures)."""
    code = code.strip().replace(" ", "")
    if not code:
        return None
    # A recovery code is letters and digits, an app's code digits only: a recovery code is not
    # tried against the app (each failure there slows the next attempt).
    devices: list[Device] = [*StaticDevice.objects.filter(user_id=user.pk, confirmed=True)]
    if code.isdigit():
        devices[:0] = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True)
    for device in devices:
        verified = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            return verified
    return None


def recovery_codes_left(*, user_id: int) -> int:
    return StaticToken.objects.filter(device__user_id=user_id, device__confirmed=True).count()
