from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models

from worklists import nin
from worklists.models.choices import Sex


class Patient(models.Model):
    family_name = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["family_name", "given_name"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}" if self.given_name else self.family_name

    def age_on(self, day: dt.date) -> int | None:
        if self.birth_date is None:
            return None
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - int(before_birthday)


class PatientIdentifier(models.Model):
    """An identifier for a patient issued by one assigning authority.

    National numbers (FNR, DNR) are unique across all sites, which is what lets a reader see the
    patient's priors from every hospital; a site's local medical record number uses the site
    code as its authority.
    """

    class Kind(models.TextChoices):
        FODSELSNUMMER = "FNR", "Fødselsnummer"
        D_NUMMER = "DNR", "D-nummer"
        H_NUMMER = "HNR", "H-nummer"
        LOCAL = "MR", "Local record number"

    # Numbers in the national format, validated with their check digits.
    NATIONAL_KINDS = frozenset({Kind.FODSELSNUMMER, Kind.D_NUMMER, Kind.H_NUMMER})
    # Issued by the national population register, the same patient whichever site sends them;
    # an H-nummer is issued by the health institution, like a local record number.
    NATIONAL_REGISTER_KINDS = frozenset({Kind.FODSELSNUMMER, Kind.D_NUMMER})
    NATIONAL_AUTHORITY = "NO-FREG"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=3, choices=Kind.choices)
    authority = models.CharField(
        max_length=64, help_text="Assigning authority: 'NO-FREG' for national numbers, else site."
    )
    value = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["authority", "kind", "value"], name="identifier_unique_per_authority"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} ({self.authority})"

    def clean(self) -> None:
        if self.kind in self.NATIONAL_KINDS:
            try:
                nin.parse_as(self.kind, self.value)
            except nin.InvalidNationalIdentityNumber as exc:
                raise ValidationError({"value": str(exc)}) from exc
