from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserPreference(models.Model):
    """What a person chose for their own pages; no row means the platform's defaults."""

    class Language(models.TextChoices):
        # Empty: the platform's LANGUAGE_CODE, so a deployment can change the default for everyone
        # who has not chosen. The names are shown in their own language in the menu.
        PLATFORM = "", _("Platform default")
        BOKMAL = "nb", "Norsk bokmål"
        ENGLISH = "en", "English"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="preference",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, blank=True, default=""
    )

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.language or '-'}"
