from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class InboundMessage(models.Model):
    """Every inbound message, stored raw before it is parsed, so nothing is ever lost.

    A message that fails keeps its error here for inspection and can be reprocessed after a fix.
    """

    class Channel(models.TextChoices):
        REST = "REST", _("REST API")
        HL7 = "HL7", _("HL7 v2 / MLLP")

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", _("Received, not yet applied")
        APPLIED = "APPLIED", _("Applied")
        FAILED = "FAILED", _("Failed")
        DUPLICATE = "DUPLICATE", _("Duplicate of an earlier message")

    channel = models.CharField(max_length=8, choices=Channel.choices)
    site = models.ForeignKey(  # indexed by inbound_site_message_id (site, message_id)
        "worklists.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inbound_messages",
        db_index=False,
    )
    peer = models.CharField(max_length=100, blank=True, help_text="Remote address.")
    received_at = models.DateTimeField()
    raw = models.BinaryField()
    content_type = models.CharField(max_length=100, blank=True)
    message_id = models.CharField(
        max_length=100, blank=True, help_text="Sender's message id (MSH-10, Idempotency-Key)."
    )
    message_type = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    study = models.ForeignKey(
        "worklists.Study", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(status="RECEIVED"),
                name="inbound_unprocessed",
            ),
            models.Index(fields=["site", "message_id"], name="inbound_site_message_id"),
            models.Index(fields=["status", "received_at"], name="inbound_status_received"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.message_type} from {self.site_id} at {self.received_at}"
