"""The outbound side of the HL7 interface: an outbox of messages owed to a site's RIS.

A row is written in the same transaction as what it reports (a signed report, a returned
referral), so a committed report always has a delivery owed for it. The row holds a frozen
snapshot of the content; the HL7 message is built from it at send time.
"""

from __future__ import annotations

from django.db import models


class OutboundKind(models.TextChoices):
    REPORT = "REPORT", "Report (ORU^R01)"
    ORDER_REJECTION = "ORDER_REJECTION", "Returned referral (filler cancellation)"


class OutboundStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    DELIVERED = "DELIVERED", "Delivered"
    DEAD = "DEAD", "Dead-lettered"


class OutboundMessage(models.Model):
    site = models.ForeignKey("worklists.Site", on_delete=models.PROTECT, related_name="+")
    study = models.ForeignKey(
        "worklists.Study", on_delete=models.PROTECT, related_name="outbound_messages"
    )
    kind = models.CharField(max_length=16, choices=OutboundKind.choices)
    # OBR-25 for reports: P preliminary, F final, C corrected. Blank for rejections.
    result_status = models.CharField(max_length=1, blank=True)
    content = models.JSONField()
    status = models.CharField(
        max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="outbound_pending_due",
                condition=models.Q(status="PENDING"),
            ),
            models.Index(fields=["study", "id"], name="outbound_study"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for study {self.study_id} ({self.status})"
