from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from worklists.models.choices import Modality


def validate_modalities(value: object) -> None:
    if not isinstance(value, list) or not all(v in Modality.values for v in value):
        raise ValidationError(f"must be a list of modality codes from {Modality.values}")


class Radiologist(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="radiologist"
    )
    hpr_number = models.CharField(
        "HPR number",
        max_length=9,
        unique=True,
        validators=[RegexValidator(r"^\d{7,9}$", "an HPR number has 7 to 9 digits")],
        help_text="Helsepersonellregisteret number, printed on every signed report.",
    )
    modalities = models.JSONField(
        default=list, blank=True, validators=[validate_modalities], help_text="Modalities read."
    )
    is_active = models.BooleanField(default=True)
    last_active_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Last sign of work (sign-in, read next, claim, opening a study, autosave): "
        "a reader idle for ROUTING_PUSH_IDLE_MINUTES receives no pushes until they act again.",
    )

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    def reads_modality(self, modality: str) -> bool:
        return modality in self.modalities


class Competence(models.Model):
    class Level(models.TextChoices):
        PRIMARY = "PRIMARY", _("Primary reader")
        BACKUP = "BACKUP", _("Backup reader")

    radiologist = models.ForeignKey(
        Radiologist, on_delete=models.CASCADE, related_name="competences"
    )
    worklist = models.ForeignKey(
        "worklists.Worklist", on_delete=models.CASCADE, related_name="competences"
    )
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.PRIMARY)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["radiologist", "worklist"], name="one_competence_per_worklist"
            )
        ]

    def __str__(self) -> str:
        return f"{self.radiologist}: {self.worklist} ({self.level})"


class Credential(models.Model):
    """The right to read for one site: granted by that site, for a period."""

    radiologist = models.ForeignKey(
        Radiologist, on_delete=models.CASCADE, related_name="credentials"
    )
    site = models.ForeignKey("worklists.Site", on_delete=models.CASCADE, related_name="credentials")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True, help_text="Inclusive; empty: no expiry.")
    authorisation_reference = models.CharField(
        max_length=100, blank=True, help_text="The site's privileging decision or contract."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["radiologist", "site"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="credential_period_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.radiologist} @ {self.site.code} {self.valid_from}..{self.valid_until or ''}"

    def is_valid_on(self, day: dt.date) -> bool:
        if self.revoked_at is not None:
            return False
        return self.valid_between(self.valid_from, self.valid_until, day)

    @staticmethod
    def valid_between(valid_from: dt.date, valid_until: dt.date | None, day: dt.date) -> bool:
        """Whether a credential not revoked, valid from ``valid_from`` to ``valid_until`` (open
        when None), is valid on ``day``: for callers that read the dates without the row."""
        return valid_from <= day and (valid_until is None or day <= valid_until)
