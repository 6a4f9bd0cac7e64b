"""Shifts, coverage windows, routing decisions and AI findings: what routing decides from."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Shift(models.Model):
    """A radiologist on duty from ``starts_at`` to ``ends_at`` for some worklists and sites."""

    class Role(models.TextChoices):
        PRIMARY = "PRIMARY", _("Primary")
        BACKUP = "BACKUP", _("Backup")

    radiologist = models.ForeignKey(
        "worklists.Radiologist", on_delete=models.CASCADE, related_name="shifts"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.PRIMARY)
    worklists = models.ManyToManyField(
        "worklists.Worklist",
        blank=True,
        related_name="+",
        help_text="Worklists covered; empty: every worklist the radiologist is competent in.",
    )
    sites = models.ManyToManyField(
        "worklists.Site",
        blank=True,
        related_name="+",
        help_text="Sites covered; empty: every site the radiologist is credentialed for.",
    )
    target_work_units = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Work units expected this shift; 0: no target.",
    )
    carried_deficit_work_units = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Work units short of target on the previous shift, set when this one starts.",
    )
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When routing noticed the start and filled the queue."
    )
    source = models.CharField(max_length=200, blank=True, help_text="Import file, or 'admin'.")
    external_id = models.CharField(
        max_length=255, blank=True, help_text="UID in the calendar it came from; re-imports update."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            ),
            models.UniqueConstraint(
                fields=["radiologist", "external_id"],
                condition=~Q(external_id=""),
                name="shift_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["ends_at", "starts_at"], name="shift_by_end"),
            models.Index(fields=["radiologist", "ends_at"], name="shift_reader_by_end"),
        ]

    def __str__(self) -> str:
        return f"{self.radiologist_id} {self.role} {self.starts_at:%Y-%m-%d %H:%M}..{self.ends_at}"


class CoverageWindow(models.Model):
    """When a site outsources reading, in the site's own time zone. A site without windows
    outsources around the clock."""

    PUBLIC_HOLIDAY = 7
    DAY_CHOICES = [
        (0, "Monday"),
        (1, "Tuesday"),
        (2, "Wednesday"),
        (3, "Thursday"),
        (4, "Friday"),
        (5, "Saturday"),
        (6, "Sunday"),
        (PUBLIC_HOLIDAY, "Norwegian public holiday"),
    ]

    site = models.ForeignKey(
        "worklists.Site", on_delete=models.CASCADE, related_name="coverage_windows"
    )
    day = models.PositiveSmallIntegerField(
        choices=DAY_CHOICES, validators=[MaxValueValidator(PUBLIC_HOLIDAY)]
    )
    starts = models.TimeField(help_text="Local time the window opens.")
    ends = models.TimeField(
        help_text="Local time it closes; at or before the start means the next day."
    )

    class Meta:
        ordering = ["site", "day", "starts"]
        constraints = [
            models.CheckConstraint(condition=Q(day__lte=7), name="coverage_day_known"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id} {self.get_day_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"


class ReaderFactsVersion(models.Model):
    """How often a reader's routing facts have changed: their shifts (and what a shift covers),
    competences, credentials, site membership, or the reader row itself (active, modalities).

    Counted by database triggers on PostgreSQL (migration 0011), so an edit by any path (a
    service, the admin, a shift import, a bulk ``update()``) counts. "Read next" claims with a
    scope cached in the process; the claim statement compares this count with the one the scope
    was built at, and claims nothing when they differ, so a revoked credential or an ended shift
    counts at once while the statement reads one row instead of five tables.
    """

    # Not a foreign key: the count outlives a deleted reader, whose cached scopes it ends.
    radiologist_id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"reader {self.radiologist_id}: facts version {self.version}"


class RoutingDecision(models.Model):
    """Why a study went where it went: every reader considered, with scores or the reason."""

    class Mode(models.TextChoices):
        PUSH = "PUSH", _("Routed")
        PULL = "PULL", _("Read next")
        CLAIM = "CLAIM", _("Claimed")
        MANUAL = "MANUAL", _("Coordinator")

    # The trigger of a "read next" claim. Its decision is stored in the claim's study event
    # (data["decision"] is this), not as a row: see worklists.services.claims.
    READ_NEXT = "read_next"

    study = models.ForeignKey(  # indexed by routing_decision_study (study, decided_at)
        "worklists.Study",
        on_delete=models.CASCADE,
        related_name="routing_decisions",
        db_index=False,
    )
    decided_at = models.DateTimeField()
    mode = models.CharField(max_length=8, choices=Mode.choices)
    trigger = models.CharField(max_length=40, help_text="What asked for the decision.")
    tier = models.PositiveSmallIntegerField(default=0, help_text="Escalation tier applied.")
    radiologist = models.ForeignKey(
        "worklists.Radiologist",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who got it; empty when nobody was eligible.",
    )
    trace = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["study", "decided_at"], name="routing_decision_study")]

    def __str__(self) -> str:
        return f"{self.study_id} -> {self.radiologist_id} ({self.mode}, tier {self.tier})"


class AiFinding(models.Model):
    """A finding an AI service reported for a study, e.g. suspected intracranial haemorrhage."""

    study = models.ForeignKey(
        "worklists.Study", on_delete=models.CASCADE, related_name="ai_findings"
    )
    code = models.CharField(max_length=64, help_text="The finding's code, e.g. ICH.")
    description = models.CharField(max_length=300)
    confidence = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    is_critical = models.BooleanField(
        default=False, help_text="Critical findings re-prioritise the study to the top."
    )
    source = models.CharField(max_length=100, help_text="The AI product that reported it.")
    external_id = models.CharField(max_length=128, blank=True)
    reported_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="ai_finding_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1),
                name="ai_finding_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study_id}: {self.code} ({self.confidence})"
