from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """A read of patient data: who saw what, about which patient, when and from where."""

    class Action(models.TextChoices):
        STUDY_VIEW = "study.view", _("Viewed a study")
        STUDY_LIST = "study.list", _("Saw a study in a list")
        REPORT_VIEW = "report.view", _("Viewed a report")
        PATIENT_VIEW = "patient.view", _("Viewed a patient record")
        PATIENT_LIST = "patient.list", _("Saw a patient in an admin list")
        STUDY_REFUSED = "study.refused", _("Was refused a study")
        AUDIT_VIEW = "audit.view", _("Read the audit trail")

    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Action.choices)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    patient = models.ForeignKey(
        "worklists.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    site = models.ForeignKey(
        "worklists.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=16, help_text="web, api, admin...")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    path = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "at"]),
            models.Index(fields=["actor", "at"]),
            models.Index(fields=["object_type", "object_id"]),
        ]
        permissions = [
            ("view_privacy_report", "Can see who accessed which patient (privacy officer)"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_id}"
