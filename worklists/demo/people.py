"""The demo's people: the coordinator, the radiologists with their competences and credentials,
and one user per site. All are brought back to their demo state on every run.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.utils import timezone

from worklists.access import COORDINATORS_GROUP
from worklists.demo.data import (
    COORDINATOR_USERNAME,
    FIRST_HPR_NUMBER,
    RADIOLOGISTS,
    SEED,
    SITES,
)
from worklists.models import (
    Competence,
    Credential,
    Radiologist,
    Site,
    SiteMembership,
    UserPreference,
    Worklist,
)

User = get_user_model()
DEMO_LANGUAGE = "nb"


def ensure_user(
    *,
    username: str,
    password_hash: str,
    first_name: str,
    last_name: str,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> AbstractUser:
    # One PBKDF2 hash shared by every demo user keeps the command fast; they share the
    # password anyway.
    user, _ = User.objects.update_or_create(
        username=username,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username}@demo.example",
            "is_active": True,
            "is_staff": is_staff,
            "is_superuser": is_superuser,
            "password": password_hash,
        },
    )
    # The demo speaks bokmål; a demo user who switched language keeps it across re-seeding.
    UserPreference.objects.get_or_create(user=user, defaults={"language": DEMO_LANGUAGE})
    return user


def ensure_coordinator(password_hash: str) -> AbstractUser:
    user = ensure_user(
        username=COORDINATOR_USERNAME,
        password_hash=password_hash,
        first_name="Mona",
        last_name="Fredheim",
        is_staff=True,
        is_superuser=True,
    )
    user.groups.add(Group.objects.get(name=COORDINATORS_GROUP))
    return user


def ensure_radiologists(
    password_hash: str,
    sites: dict[str, Site],
    subspecialties: dict[str, Worklist],
) -> list[Radiologist]:
    rng = random.Random(f"{SEED}-credentials")
    today = timezone.localdate()
    site_codes = [s.code for s in SITES]
    radiologists = []
    for number, spec in enumerate(RADIOLOGISTS, start=1):
        username = f"rad{number:02d}"
        user = ensure_user(
            username=username,
            password_hash=password_hash,
            first_name=spec.first_name,
            last_name=spec.last_name,
        )
        radiologist, _ = Radiologist.objects.update_or_create(
            user=user,
            defaults={
                "hpr_number": str(FIRST_HPR_NUMBER + number - 1),
                "modalities": list(spec.modalities),
                "is_active": True,
            },
        )
        levels = dict.fromkeys(spec.primary, Competence.Level.PRIMARY)
        levels.update(dict.fromkeys(spec.backup, Competence.Level.BACKUP))
        for code, level in levels.items():
            Competence.objects.update_or_create(
                radiologist=radiologist,
                worklist=subspecialties[code],
                defaults={"level": level},
            )
        chosen = rng.sample(site_codes, k=rng.randint(3, 5))
        for site_index, code in enumerate(sorted(chosen)):
            valid_until = None
            # A few credentials that ran out or are about to, as in any real roster.
            if number in (5, 12) and site_index == 0:
                valid_until = today - dt.timedelta(days=20 + number)
            elif number == 9 and site_index == 0:
                valid_until = today + dt.timedelta(days=10)
            valid_from = today - dt.timedelta(days=rng.randint(120, 1500))
            Credential.objects.update_or_create(
                radiologist=radiologist,
                site=sites[code],
                authorisation_reference=(f"{code.upper()}-PRIV-{valid_from.year}-{number:03d}"),
                defaults={
                    "valid_from": valid_from,
                    "valid_until": valid_until,
                    "revoked_at": None,
                },
            )
        radiologists.append(radiologist)
    return radiologists


def ensure_site_users(password_hash: str, sites: dict[str, Site]) -> None:
    for spec in SITES:
        user = ensure_user(
            username=spec.code,
            password_hash=password_hash,
            first_name="Ekspedisjonen",
            last_name=spec.name,
        )
        SiteMembership.objects.update_or_create(user=user, defaults={"site": sites[spec.code]})
