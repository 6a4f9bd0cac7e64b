from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class CoordinatorAlert(models.Model):
    """Something a coordinator must look at: a deadline about to be missed with nobody reading, a
    critical finding not yet communicated, images whose patient does not match the order, a report
    the site's RIS will not take. Open until a coordinator resolves it.
    """

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
