from __future__ import annotations

from django.conf import settings
from django.db import models

from worklists.models.studies import Study

# The statuses whose first event is a milestone (the indicators' turnaround spans).
MILESTONE_STATUSES = (
    "ORDERED",
    "READY",
    "IN_PROGRESS",
    "PRELIMINARY",
    "FINAL",
    "CANCELLED",
    "REJECTED",
)


class StudyMilestones(models.Model):
    """A study's first moments into the statuses the indicators measure: one row per study
    with such an event, so a turnaround is a pair of columns, not a search of its events.

    Written by the database only: triggers on worklists_studyevent (migration 0024) keep it
    as events are inserted, updated or deleted, by whichever writer (the services, the claim
    statement in worklists.queries, bulk history). The application never writes it."""

    study = models.OneToOneField(
        Study, on_delete=models.CASCADE, primary_key=True, related_name="milestones"
    )
    # The creating event: from nothing into ORDERED (not a return from ON_HOLD).
    ordered_at = models.DateTimeField(null=True, blank=True)
    first_ready_at = models.DateTimeField(null=True, blank=True)
    # First IN_PROGRESS: the first reader to open it, whoever signs.
    first_opened_at = models.DateTimeField(null=True, blank=True)
    first_preliminary_at = models.DateTimeField(null=True, blank=True)
    # The signature: the first event into FINAL (an event that keeps a final study's status,
    # such as a patient merge, is no second signature).
    final_at = models.DateTimeField(null=True, blank=True)
    # The move into CANCELLED, into REJECTED (the referral returned): terminal statuses, each
    # reached at most once (migration 0028), for the indicators' volumes.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    # Who recorded that FINAL event. Not indexed, as StudyEvent.actor: no page asks for one
    # user's rows; deleting a user who signed is refused (PROTECT), users are deactivated.
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    # The study's grouping columns, copied (migration 0027) so the indicators' statements read
    # the period's milestone rows alone and never join the whole study table (docs/indicators.md,
    # "Speed"): filled from the study when the row is inserted, and rewritten when the study's
    # row changes one of them. The study's values now, as the join gave them. No foreign-key
    # constraint: the study's own row holds those, the copy follows it. Nullable, strings too:
    # only so that SQLite adds them in place (a table rebuild would break 0024's triggers).
    site = models.ForeignKey(
        "worklists.Site",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    modality = models.CharField(max_length=4, blank=True, null=True)  # noqa: DJ001
    worklist = models.ForeignKey(
        "worklists.Worklist",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    priority = models.CharField(max_length=20, blank=True, null=True)  # noqa: DJ001
    deadline = models.DateTimeField(null=True, blank=True)
    work_units = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name_plural = "study milestones"
        indexes = [
            # The indicators' period: the studies signed final in it.
            models.Index(fields=["final_at"], name="study_milestones_final_at"),
            # The volumes: ordered, cancelled, returned in the period (0028).
            models.Index(fields=["ordered_at"], name="study_milestones_ordered_at"),
            models.Index(
                fields=["cancelled_at"],
                name="study_milestones_cancelled_at",
                condition=models.Q(cancelled_at__isnull=False),
            ),
            models.Index(
                fields=["rejected_at"],
                name="study_milestones_rejected_at",
                condition=models.Q(rejected_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study_id}: final {self.final_at or '-'}"
