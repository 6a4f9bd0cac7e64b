from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CoordinatorAlert(models.Model):
    """Something a coordinator must look at: a deadline about to be missed with nobody reading, a
    critical finding not yet communicated, images whose patient does not match the order, a report
    the site's RIS will not take.

    One open alert per study (or patient) and kind: raising it again updates it (message, data,
    ``last_raised_at``, ``raise_count``). Open until resolved: by a coordinator who acknowledges
    it (``resolution`` "acknowledged"), or by the service whose condition cleared. A snoozed alert
    stays open but leaves the coordinators' list until ``snoozed_until``. Every change is a
    CoordinatorAlertEvent.
    """

    ACKNOWLEDGED = "acknowledged"  # the resolution of an alert a coordinator acknowledged

    kind = models.CharField(max_length=40, help_text="What raised it, e.g. routing.escalation.")
    study = models.ForeignKey(
        "worklists.Study",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="coordinator_alerts",
    )
    site = models.ForeignKey(
        "worklists.Site", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # An alert about a patient rather than one study (sites' records of the patient disagree).
    patient = models.ForeignKey(
        "worklists.Patient", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(blank=True)
    last_raised_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last raised (again); empty: only once."
    )
    raise_count = models.PositiveIntegerField(
        default=1, help_text="How often it was raised while open."
    )
    snoozed_until = models.DateTimeField(
        null=True, blank=True, help_text="Off the coordinators' list until then."
    )
    snoozed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # Raising the same alert twice while it is open is one alert, not two.
            models.UniqueConstraint(
                fields=["kind", "study"],
                condition=Q(resolved_at__isnull=True, study__isnull=False),
                name="one_open_alert_per_kind_and_study",
            ),
            models.UniqueConstraint(
                fields=["kind", "patient"],
                condition=Q(resolved_at__isnull=True, patient__isnull=False),
                name="one_open_alert_per_kind_and_patient",
            ),
        ]
        indexes = [
            models.Index(
                fields=["raised_at"], condition=Q(resolved_at__isnull=True), name="alert_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class CoordinatorAlertEvent(models.Model):
    """One row per change of an alert: raised, acknowledged, snoozed, resolved."""

    class Action(models.TextChoices):
        RAISED = "raised", _("Raised")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")

    alert = models.ForeignKey(CoordinatorAlert, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField()
    # Not indexed, as StudyEvent.actor: nothing looks events up by who acted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=150, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"alert {self.alert_id}: {self.action} at {self.at}"
