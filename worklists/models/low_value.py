"""Low-value referral rules: data the coordinators edit in the admin, as classification rules."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from worklists.models.choices import Modality


class LowValueRule(models.Model):
    """A recommendation against an examination in a stated situation (in the spirit of the
    Norwegian "Kloke valg"). An order it matches at intake is flagged with ``text``; a reader
    may then return the referral. The first active rule in position order wins."""

    position = models.PositiveIntegerField(default=100, help_text="Tried in ascending position.")
    name = models.CharField(max_length=200)
    text = models.TextField(
        help_text="Shown with the flag on the worklist and the reading page: the recommendation "
        "and its source."
    )
    is_active = models.BooleanField(default=True)
    is_example = models.BooleanField(
        default=False,
        help_text="Shipped with the demo as an example, not as a clinical recommendation.",
    )
    # Conditions: a blank condition matches anything.
    modality = models.CharField(max_length=4, choices=Modality.choices, blank=True)
    body_part = models.CharField(max_length=64, blank=True, help_text="Case-insensitive match.")
    procedure_code = models.CharField(max_length=32, blank=True, help_text="Exact code.")
    procedure_code_prefix = models.CharField(max_length=32, blank=True)
    min_age_years = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age_years = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Inclusive: 49 matches patients up to their 50th birthday."
    )
    question_words = models.TextField(
        blank=True,
        help_text="Comma-separated. The clinical question must contain at least one "
        "(case-insensitive, also inside a longer word: 'rygg' finds 'korsryggsmerter').",
    )
    excluding_words = models.TextField(
        blank=True,
        help_text="Comma-separated red flags: a clinical question containing any of them is "
        "not flagged.",
    )

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_age_years__isnull=True)
                | Q(max_age_years__isnull=True)
                | Q(min_age_years__lte=models.F("max_age_years")),
                name="low_value_rule_age_range_ordered",
            )
        ]

    def __str__(self) -> str:
        label = "Example: " if self.is_example else ""
        return f"#{self.position} {label}{self.name}"
