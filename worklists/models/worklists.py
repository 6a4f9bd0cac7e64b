from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from worklists.models.choices import Modality


class Worklist(models.Model):
    """A worklist: one per subspecialty (neuro, MSK, chest...), and one general worklist. The
    product calls it a worklist everywhere: this model, the foreign keys to it, the app."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    is_general = models.BooleanField(
        default=False, help_text="Unclassified studies land in the general worklist."
    )
    display_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["display_order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_general"], condition=Q(is_general=True), name="one_general_worklist"
            )
        ]

    def __str__(self) -> str:
        return self.name


def validate_regex(value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(f"not a valid regular expression: {exc}") from exc


class ClassificationRule(models.Model):
    """An ordered rule: the first active rule whose every set condition matches wins."""

    position = models.PositiveIntegerField(help_text="Rules are tried in ascending position.")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    worklist = models.ForeignKey(
        Worklist, on_delete=models.PROTECT, related_name="classification_rules"
    )
    work_units = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    # Conditions: a blank condition matches anything.
    site = models.ForeignKey(
        "worklists.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="classification_rules",
    )
    modality = models.CharField(max_length=4, choices=Modality.choices, blank=True)
    body_part = models.CharField(max_length=64, blank=True, help_text="Case-insensitive match.")
    procedure_code = models.CharField(max_length=32, blank=True, help_text="Exact code.")
    procedure_code_prefix = models.CharField(max_length=32, blank=True)
    description_pattern = models.CharField(
        max_length=300,
        blank=True,
        validators=[validate_regex],
        help_text="Regular expression searched case-insensitively in the procedure text.",
    )
    min_age_years = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age_years = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Inclusive: 15 matches patients up to their 16th birthday."
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_age_years__isnull=True)
                | Q(max_age_years__isnull=True)
                | Q(min_age_years__lte=models.F("max_age_years")),
                name="rule_age_range_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.name} -> {self.worklist.code}"
