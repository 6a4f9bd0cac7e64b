"""Quality work (issue 18): peer review of signed reports, RADPEER-style.

A worklist's policy says which share of its signed reports is reviewed; each sampled report
becomes one ReviewTask (once per report: a database rule), routed to another eligible
radiologist who scores it. Every change of a task is a ReviewEvent. The sampling's counters per
worklist and author (ReviewStratum) keep each author's sampled share on the configured share.

Double reading (part 1 of the issue) is quality work too and belongs here when it comes.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class RadpeerScore(models.TextChoices):
    """The ACR RADPEER scale (2016): 1 concur; 2 an understandable miss; 3 a miss that should be
    made most of the time; a: unlikely, b: likely to be clinically significant."""

    CONCUR = "1", _("1: concur with the interpretation")
    MISS_UNLIKELY_SIGNIFICANT = "2a", _("2a: understandable miss, unlikely to matter clinically")
    MISS_LIKELY_SIGNIFICANT = "2b", _("2b: understandable miss, likely to matter clinically")
    ERROR_UNLIKELY_SIGNIFICANT = "3a", _("3a: should be made most of the time, unlikely to matter")
    ERROR_LIKELY_SIGNIFICANT = "3b", _("3b: should be made most of the time, likely to matter")


# RADPEER's significant discrepancies: the author and the coordinators are told. The scale the
# services read is data (ReviewScale, seeded as RADPEER by migration 0003); this enum is the seed
# and the source of its levels' translated labels.
SIGNIFICANT_SCORES = frozenset(
    {RadpeerScore.MISS_LIKELY_SIGNIFICANT, RadpeerScore.ERROR_LIKELY_SIGNIFICANT}
)
RADPEER_CODE = "radpeer"


class ReviewScale(models.Model):
    """A scale reviewers score on: RADPEER (seeded, the default) or a local one. Its levels are
    rows: a code, a label, whether the level is a significant discrepancy (the author and the
    coordinators are told), whether a comment is needed. Edited by coordinators in the admin;
    a policy chooses its scale."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(
        default=False, help_text="The scale of a policy that names none (one scale at most)."
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_review_scale"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ReviewScaleLevel(models.Model):
    """One level of a scale, in the scale's order (position)."""

    scale = models.ForeignKey(ReviewScale, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(default=0)
    code = models.CharField(max_length=16, help_text="What reviewers choose and figures show.")
    label = models.CharField(max_length=200)
    significant = models.BooleanField(
        default=False,
        help_text="A significant discrepancy: the coordinators are alerted and the author told.",
    )
    needs_comment = models.BooleanField(
        default=True, help_text="The reviewer must say what the discrepancy is."
    )

    class Meta:
        ordering = ["scale_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["scale", "code"], name="one_level_code_per_scale")
        ]

    def __str__(self) -> str:
        return f"{self.scale_id}: {self.code}"

    @property
    def shown_label(self) -> str:
        """The label in the reader's language where the catalogue has it (RADPEER's levels,
        whose labels are the enum's), else as written."""
        return gettext(self.label)


class PeerReviewPolicy(models.Model):
    """Peer review of one worklist's signed reports, edited by coordinators in the admin."""

    worklist = models.OneToOneField(
        "worklists.Worklist", on_delete=models.CASCADE, related_name="peer_review_policy"
    )
    share_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))],
        help_text="The share of each author's signed reports that is reviewed, in percent.",
    )
    blind_author = models.BooleanField(
        default=True, help_text="The reviewer does not see who wrote and signed the report."
    )
    days_to_deadline = models.PositiveSmallIntegerField(
        default=14, validators=[MinValueValidator(1)], help_text="Days a reviewer has to score."
    )
    is_active = models.BooleanField(default=True)
    # Null only until migration 0003 backfilled it: a policy naming none scores on the default.
    scale = models.ForeignKey(
        ReviewScale,
        on_delete=models.PROTECT,
        null=True,
        blank=False,
        related_name="+",
        help_text="The scale its reviews are scored on.",
    )
    # Null only until 0003 backfilled it; a policy made since starts when it is made, and
    # again when a coordinator switches it back on (quality.services.policies).
    active_since = models.DateTimeField(
        null=True,
        blank=True,
        default=timezone.now,
        help_text="Since when the policy is active: the sweep samples every final signed since.",
    )
    # The sweep's mark: every final of the worklist signed before it has been examined.
    swept_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(share_percent__gt=0, share_percent__lte=100),
                name="peer_review_share_in_range",
            ),
            models.CheckConstraint(
                condition=Q(days_to_deadline__gte=1), name="peer_review_deadline_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worklist}: {self.share_percent} %"


class ReviewStratum(models.Model):
    """The sampling's counters for one author in one worklist: how many of their reports were
    signed while the policy was active, and how many of those were sampled. The draw corrects
    itself with them (quality.sampling)."""

    worklist = models.ForeignKey("worklists.Worklist", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey("worklists.Radiologist", on_delete=models.CASCADE, related_name="+")
    signed_count = models.PositiveIntegerField(default=0)
    sampled_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worklist", "author"], name="one_stratum_per_author"),
            models.CheckConstraint(
                condition=Q(sampled_count__lte=models.F("signed_count")),
                name="stratum_sampled_within_signed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worklist_id}/{self.author_id}: {self.sampled_count}/{self.signed_count}"


class ReviewSampling(models.Model):
    """The sampling's decision for one signed report, drawn or not: one per study, so that
    sampling again (a listener run twice) decides nothing new."""

    study = models.OneToOneField(
        "worklists.Study", on_delete=models.CASCADE, related_name="review_sampling"
    )
    version = models.ForeignKey("reports.ReportVersion", on_delete=models.PROTECT, related_name="+")
    stratum = models.ForeignKey(ReviewStratum, on_delete=models.PROTECT, related_name="decisions")
    sampled = models.BooleanField()
    decided_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"study {self.study_id}: {'sampled' if self.sampled else 'not sampled'}"


class ReviewStatus(models.TextChoices):
    UNASSIGNED = "UNASSIGNED", _("Waiting for a reviewer")
    ASSIGNED = "ASSIGNED", _("Assigned")
    SCORED = "SCORED", _("Scored")
    CANCELLED = "CANCELLED", _("Cancelled")


OPEN_REVIEW_STATUSES = (ReviewStatus.UNASSIGNED, ReviewStatus.ASSIGNED)


class ReviewTask(models.Model):
    """One signed report to be reviewed by another radiologist."""

    study = models.OneToOneField(
        "worklists.Study", on_delete=models.PROTECT, related_name="review_task"
    )
    version = models.ForeignKey(
        "reports.ReportVersion",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The signed final report under review.",
    )
    worklist = models.ForeignKey("worklists.Worklist", on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(
        "worklists.Radiologist", on_delete=models.PROTECT, related_name="authored_reviews"
    )
    reviewer = models.ForeignKey(
        "worklists.Radiologist",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="review_tasks",
    )
    status = models.CharField(
        max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.UNASSIGNED
    )
    blind_author = models.BooleanField(help_text="The policy's blinding when it was sampled.")
    created_at = models.DateTimeField()
    deadline = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True, blank=True)
    # The scale it is scored on (the policy's when it was sampled; null only before 0003's
    # backfill), the level chosen, and the level's code (kept for readers of the code alone).
    scale = models.ForeignKey(
        ReviewScale, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    level = models.ForeignKey(
        ReviewScaleLevel, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    score = models.CharField(max_length=16, blank=True)
    comment = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # When the coordinators were told the review is past its deadline (quality.services.overdue):
    # once per review, even if a coordinator closes the alert by hand.
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deadline", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reviewer=models.F("author")), name="review_never_by_author"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReviewStatus.values), name="review_status_known"
            ),
            # Scored: by someone, with a score and when; otherwise no score.
            models.CheckConstraint(
                condition=(
                    Q(status="SCORED", reviewer__isnull=False, reviewed_at__isnull=False)
                    & ~Q(score="")
                )
                | (~Q(status="SCORED") & Q(score="")),
                name="review_scored_has_score",
            ),
            models.CheckConstraint(
                condition=~Q(status="ASSIGNED") | Q(reviewer__isnull=False),
                name="review_assigned_has_reviewer",
            ),
            # Scored on a level of a scale (0004, after 0003 gave the scored reviews theirs).
            models.CheckConstraint(
                condition=~Q(status="SCORED") | Q(level__isnull=False, scale__isnull=False),
                name="review_scored_has_level",
            ),
        ]
        indexes = [
            models.Index(fields=["reviewer", "status"], name="review_by_reviewer"),
            models.Index(fields=["author", "reviewed_at"], name="review_by_author"),
            models.Index(fields=["status", "deadline"], name="review_by_status"),
        ]

    def __str__(self) -> str:
        return f"Review of study {self.study_id} ({self.status})"

    @property
    def is_significant(self) -> bool:
        return self.level is not None and self.level.significant

    @property
    def score_shown(self) -> str:
        """The score as pages show it: the scale's name and the level's code."""
        if not self.score:
            return ""
        return f"{self.scale.name} {self.score}" if self.scale is not None else self.score


class ReviewEvent(models.Model):
    """One row per change of a review task: sampled, assigned, unassigned, scored, cancelled."""

    task = models.ForeignKey(ReviewTask, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    reviewer = models.ForeignKey(
        "worklists.Radiologist",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Not indexed, as StudyEvent.actor: nothing looks events up by who acted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=150)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"review {self.task_id}: {self.from_status or '-'} -> {self.to_status}"
