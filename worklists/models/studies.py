from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from worklists.classification import deadline_risk
from worklists.models.choices import Modality, Priority
from worklists.models.patients import Demographics, PatientIdentifier


class StudyStatus(models.TextChoices):
    ORDERED = "ORDERED", _("Ordered")
    READY = "READY", _("Ready")
    ASSIGNED = "ASSIGNED", _("Assigned")
    IN_PROGRESS = "IN_PROGRESS", _("In progress")
    PRELIMINARY = "PRELIMINARY", _("Preliminary")
    FINAL = "FINAL", _("Final")
    CANCELLED = "CANCELLED", _("Cancelled")
    REJECTED = "REJECTED", _("Rejected")
    ON_HOLD = "ON_HOLD", _("On hold")


# Studies waiting for a (final) read: what a worklist counts as unread.
UNREAD_STATUSES = (StudyStatus.READY, StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS)


class Study(models.Model):
    # site, patient and worklist lead composite indexes (below): their own single-column
    # indexes would only cost every insert and status change another index entry.
    site = models.ForeignKey(
        "worklists.Site", on_delete=models.PROTECT, related_name="studies", db_index=False
    )
    accession_number = models.CharField(max_length=64)
    # The order numbers as the site's RIS sent them (HL7 ORC-2/ORC-3, EI.1): a result sent back
    # carries them, so the RIS files the report with its own order.
    placer_order_number = models.CharField(max_length=199, blank=True)
    filler_order_number = models.CharField(max_length=199, blank=True)
    study_instance_uid = models.CharField(max_length=64, blank=True)
    patient = models.ForeignKey(
        "worklists.Patient", on_delete=models.PROTECT, related_name="studies", db_index=False
    )
    modality = models.CharField(max_length=4, choices=Modality.choices)
    body_part = models.CharField(max_length=64, blank=True)
    procedure_code = models.CharField(max_length=32, blank=True)
    procedure_text = models.CharField(max_length=300)
    procedure_coding_system = models.CharField(max_length=32, blank=True, default="NCRP")
    priority = models.CharField(max_length=20, choices=Priority.choices, default=Priority.ROUTINE)
    clinical_question = models.TextField(blank=True)
    referring_physician = models.CharField(max_length=200, blank=True)
    ordered_at = models.DateTimeField()
    images_available = models.BooleanField(default=False)
    ready_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    worklist = models.ForeignKey(
        "worklists.Worklist",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="studies",
        db_index=False,
    )
    classification_rule = models.ForeignKey(
        "worklists.ClassificationRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The rule that chose the worklist; empty for unclassified studies.",
    )
    is_unclassified = models.BooleanField(default=False)
    # The low-value flag (worklists.services.low_value): the rule, and its text as it read when
    # the order was flagged (a rule edited later does not rewrite what the reader was shown).
    # Not indexed: nothing looks studies up by rule, and a rule is deactivated, not deleted.
    low_value_rule = models.ForeignKey(
        "worklists.LowValueRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    low_value_text = models.TextField(blank=True)
    work_units = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("1.00"))
    routing_rank = models.PositiveSmallIntegerField(
        default=3,
        help_text="Order of reading, lowest first: 0 STAT or critical, 1 urgent, 2 cancer "
        "pathway, 3 routine; escalation lowers it for studies that waited too long.",
    )
    escalation_tier = models.PositiveSmallIntegerField(
        default=0, help_text="0 primary readers; 1 backups too; 2 every competent reader; 3 alert."
    )
    status = models.CharField(
        max_length=12, choices=StudyStatus.choices, default=StudyStatus.ORDERED
    )
    status_changed_at = models.DateTimeField()
    # A plain fact for routing: who may be given this study is restricted beyond the rules
    # (ReadRestriction rows, set by an adapter: double reading keeps the first reader off the
    # second read). Only a study with the flag pays for looking them up.
    has_read_restrictions = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(
                fields=["site", "accession_number"], name="accession_unique_per_site"
            ),
            models.CheckConstraint(
                condition=Q(status__in=StudyStatus.values), name="study_status_known"
            ),
        ]
        indexes = [
            # The keyset the lists page by: deadline then id.
            models.Index(fields=["deadline", "id"], name="study_deadline_id"),
            models.Index(fields=["status", "deadline", "id"], name="study_status_deadline"),
            models.Index(
                fields=["worklist", "status", "deadline", "id"], name="study_worklist_deadline"
            ),
            models.Index(fields=["site", "status", "deadline", "id"], name="study_site_deadline"),
            # The worklist page: unread studies of one worklist by deadline, however many
            # signed studies the table holds.
            models.Index(
                fields=["worklist", "deadline", "id"],
                condition=Q(status__in=["READY", "ASSIGNED", "IN_PROGRESS"]),
                name="study_unread_by_deadline",
            ),
            # "Read next": the first free study in reading order.
            models.Index(
                fields=["routing_rank", "deadline", "id"],
                condition=Q(status="READY"),
                name="study_ready_reading_order",
            ),
            models.Index(fields=["patient", "ordered_at"], name="study_patient_ordered"),
            models.Index(fields=["study_instance_uid"], name="study_instance_uid"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.accession_number} {self.modality} {self.procedure_text}"

    @property
    def is_unread(self) -> bool:
        return self.status in UNREAD_STATUSES

    # The patient's identifiers the reader may see, set per read (not a column): what the API
    # shows (selectors.with_visible_identifiers, queries.study_read_audited).
    visible_identifiers: list[PatientIdentifier]

    @cached_property
    def shown_patient(self) -> Demographics:
        """The patient's demographics as this study shows them: the national register's
        record, else the record of the site that ordered this study (docs/privacy.md)."""
        return self.patient.shown_for_site(self.site_id)

    def deadline_risk(self, now: dt.datetime) -> str:
        """'overdue', 'at_risk', 'ok', or '' for a study without a deadline."""
        return deadline_risk(
            deadline=self.deadline,
            ready_at=self.ready_at,
            now=now,
            risk_fraction=settings.DEADLINE_RISK_FRACTION,
            risk_minutes=settings.DEADLINE_RISK_MINUTES,
            share_cap_minutes=settings.DEADLINE_RISK_SHARE_CAP_MINUTES,
        )


# The key of a low-value flag event's data (worklists.services.low_value writes it).
LOW_VALUE_FLAG_KEY = "low_value_rule"


class StudyEvent(models.Model):
    """One row per lifecycle transition: who, when, from, to, why. Indicators come from here."""

    # indexed by (study, at), below
    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    from_status = models.CharField(max_length=12, choices=StudyStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=StudyStatus.choices)
    # Not indexed: no page or indicator asks for one user's events, and every transition (each
    # "read next", each inbound order) would pay for the index. Deleting a user who acted is
    # refused (PROTECT) after a scan; users are deactivated, not deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="Who acted, also for systems without a user."
    )
    at = models.DateTimeField()
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["study", "at"]),
            models.Index(fields=["to_status", "at"]),
            # A study's first event into a status (the indicators' turnaround, once per signed
            # study): with (study, at) alone SQLite's planner walks (to_status, at) instead.
            models.Index(fields=["study", "to_status", "at"], name="study_event_first_by_status"),
            # The low-value indicator: the period's flag events. Without it the statement reads
            # every event (a sequential scan, ~0.5 s at 5 million events); flags are few, so the
            # index is small and no other transition writes to it.
            models.Index(
                fields=["at"],
                condition=Q(data__has_key=LOW_VALUE_FLAG_KEY),
                name="study_event_low_value_flag",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study_id}: {self.from_status or '-'} -> {self.to_status} at {self.at}"


class Assignment(models.Model):
    """A study in one radiologist's hands. At most one is active per study (database rule)."""

    class Kind(models.TextChoices):
        PUSH = "PUSH", _("Routed")
        PULL = "PULL", _("Claimed")
        MANUAL = "MANUAL", _("Assigned by coordinator")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="assignments")
    radiologist = models.ForeignKey(
        "worklists.Radiologist", on_delete=models.PROTECT, related_name="assignments"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    assigned_at = models.DateTimeField()
    # Not indexed, as StudyEvent.actor: nothing looks assignments up by who made them.
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reason = models.TextField(blank=True)
    last_activity_at = models.DateTimeField(
        null=True, blank=True, help_text="The holder's last sign of life; idle claims expire."
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["study"],
                condition=Q(ended_at__isnull=True),
                name="one_active_assignment_per_study",
            )
        ]
        indexes = [
            models.Index(
                fields=["radiologist"],
                condition=Q(ended_at__isnull=True),
                name="assignment_active_by_reader",
            )
        ]

    def __str__(self) -> str:
        state = "active" if self.ended_at is None else "ended"
        return f"{self.study_id} -> {self.radiologist_id} ({state})"


class ReadRestriction(models.Model):
    """Who may be given this study, beyond the routing rules: a reader (or every reader working
    for a site) kept off it, or a reader it is reserved for (when a study has reservations,
    only those readers get it). Routing (push, read next, claim, the coordinator's chooser)
    obeys them at every tier. Set by an adapter through
    worklists.services.read_restrictions (double reading: the first reader kept off the second
    read; the arbitration reserved for a consensus group); ``Study.has_read_restrictions`` says
    there are some."""

    class Kind(models.TextChoices):
        EXCLUDE = "EXCLUDE", _("Kept off")
        RESERVE = "RESERVE", _("Reserved for")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="read_restrictions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    radiologist = models.ForeignKey(
        "worklists.Radiologist",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    site = models.ForeignKey(
        "worklists.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="EXCLUDE", radiologist__isnull=False, site__isnull=True)
                | Q(kind="EXCLUDE", radiologist__isnull=True, site__isnull=False)
                | Q(kind="RESERVE", radiologist__isnull=False, site__isnull=True),
                name="read_restriction_shape",
            )
        ]

    def __str__(self) -> str:
        who = f"reader {self.radiologist_id}" if self.radiologist_id else f"site {self.site_id}"
        return f"{self.study_id}: {self.kind} {who}"
