"""A person's own choices for their pages."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from worklists.models import UserPreference


class UnknownLanguage(ValueError):
    """The language is not one the interface speaks."""


def user_language_get(*, user_id: int) -> str:
    """The user's stored language, or "" when they have not chosen (the platform default)."""
    return (
        UserPreference.objects.filter(user_id=user_id).values_list("language", flat=True).first()
        or ""
    )


@transaction.atomic
def user_language_set(*, user_id: int, language: str) -> str:
    """Store the user's language ("" for the platform default); returns the language in effect."""
    if language not in UserPreference.Language.values:
        raise UnknownLanguage(language)
    UserPreference.objects.update_or_create(user_id=user_id, defaults={"language": language})
    return language or settings.LANGUAGE_CODE
