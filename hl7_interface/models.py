"""The outbound side of the HL7 interface: an outbox of messages owed to a site's RIS.

A row is written in the same transaction as what it reports (a signed report, a returned
referral), so a committed report always has a delivery owed for it. The row holds a frozen
snapshot of the content; the HL7 message is built from it at send time.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from teleradiology.listeners import ADDRESS_LIST_HELP, require_addresses, validate_address_list


class OutboundKind(models.TextChoices):
    REPORT = "REPORT", _("Report (ORU^R01)")
    ORDER_REJECTION = "ORDER_REJECTION", _("Returned referral (filler cancellation)")


class OutboundStatus(models.TextChoices):
    PENDING = "PENDING", _("Pending")
    DELIVERED = "DELIVERED", _("Delivered")
    DEAD = "DEAD", _("Dead-lettered")


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
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # The RIS's answer to the last attempt, as received: its MSA-1 and the whole ACK.
    ack_code = models.CharField(max_length=2, blank=True)
    ack_message = models.TextField(blank=True)

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


class Charset(models.TextChoices):
    UTF8 = "UNICODE UTF-8", _("UTF-8")
    LATIN1 = "8859/1", _("ISO 8859-1 (Latin-1)")
    ASCII = "ASCII", _("ASCII")


class SiteHl7Config(models.Model):
    """How one site's RIS talks HL7 with us: who it is, where its results go, what it speaks.

    The site is identified on inbound messages by MSH-4 (``Site.hl7_sending_facility``).
    """

    site = models.OneToOneField(
        "worklists.Site", on_delete=models.CASCADE, related_name="hl7_config"
    )
    receiving_application = models.CharField(
        max_length=64, blank=True, help_text="MSH-5 on results we send to the site's RIS."
    )
    receiving_facility = models.CharField(
        max_length=64, blank=True, help_text="MSH-6 on results we send to the site's RIS."
    )
    ris_host = models.CharField(
        max_length=255, blank=True, help_text="Where results are delivered (MLLP); empty: none."
    )
    ris_port = models.PositiveIntegerField(null=True, blank=True)
    allowed_source_addresses = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_address_list],
        help_text=ADDRESS_LIST_HELP,
    )
    default_charset = models.CharField(
        max_length=16,
        choices=Charset.choices,
        default=Charset.UTF8,
        help_text="Character set of messages whose MSH-18 is empty, and of results sent.",
    )

    class Meta:
        verbose_name = "site HL7 configuration"

    def __str__(self) -> str:
        return f"HL7 configuration of site {self.site_id}"

    def clean(self) -> None:
        super().clean()
        require_addresses(self.allowed_source_addresses, field="allowed_source_addresses")
