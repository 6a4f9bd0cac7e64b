"""Who did something: a person, a site's integration, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    label: str

    @classmethod
    def for_user(cls, user: AbstractBaseUser | AnonymousUser) -> Actor:
        if not user.is_authenticated:
            raise ValueError("an anonymous user cannot act")
        return cls(user_id=user.pk, label=user.get_username())

    @classmethod
    def for_site(cls, site_code: str) -> Actor:
        return cls(user_id=None, label=f"site:{site_code}")

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls(user_id=None, label=f"system:{component}")
