from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from worklists.models.choices import Priority
from worklists.models.tokens import SITE_TOKEN_PREFIX, hash_secret, new_secret


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not a known IANA time zone") from exc


def validate_viewer_url_template(value: str) -> None:
    try:
        value.format(study_instance_uid="1.2.3", accession_number="A1", site_code="S")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationError(
            "use only the placeholders {study_instance_uid}, {accession_number}, {site_code}"
        ) from exc


class Site(models.Model):
    """A hospital or private institute that sends studies and receives reports."""

    class Kind(models.TextChoices):
        PUBLIC_HOSPITAL = "PUBLIC_HOSPITAL", _("Public hospital")
        PRIVATE_INSTITUTE = "PRIVATE_INSTITUTE", _("Private institute")

    code = models.SlugField(max_length=16, unique=True, help_text="Short code, e.g. 'NLSH'.")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PUBLIC_HOSPITAL)
    time_zone = models.CharField(
        max_length=64, default="Europe/Oslo", validators=[validate_time_zone]
    )
    hl7_sending_facility = models.CharField(
        max_length=64, blank=True, help_text="MSH-4 of messages from this site's RIS."
    )
    dicom_ae_title = models.CharField(
        max_length=16, blank=True, help_text="Calling AE title of this site's PACS."
    )
    viewer_url_template = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_viewer_url_template],
        help_text="e.g. https://pacs.example/viewer?StudyInstanceUIDs={study_instance_uid}",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["hl7_sending_facility"],
                condition=~Q(hl7_sending_facility=""),
                name="site_unique_hl7_sending_facility",
            ),
            models.UniqueConstraint(
                fields=["dicom_ae_title"],
                condition=~Q(dicom_ae_title=""),
                name="site_unique_dicom_ae_title",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def viewer_url(self, *, study_instance_uid: str, accession_number: str) -> str:
        if not self.viewer_url_template:
            return ""
        return self.viewer_url_template.format(
            study_instance_uid=study_instance_uid,
            accession_number=accession_number,
            site_code=self.code,
        )


class DeadlineContract(models.Model):
    """The turnaround a site has agreed for one priority, from ready for reading to signed."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="deadline_contracts")
    priority = models.CharField(max_length=20, choices=Priority.choices)
    turnaround_minutes = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "priority"], name="one_deadline_per_priority"),
            models.CheckConstraint(
                condition=Q(turnaround_minutes__gt=0), name="deadline_turnaround_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site.code} {self.priority}: {self.turnaround_minutes} min"


def new_site_token_key() -> str:
    """Kept for migration 0001 (tokens were stored in clear then)."""
    return new_secret(SITE_TOKEN_PREFIX)


class SiteApiTokenQuerySet(models.QuerySet["SiteApiToken"]):
    def create(self, **kwargs: Any) -> SiteApiToken:
        """A new token; only its hash is stored. The secret is on the returned instance's ``key``
        (in memory only) to be shown once."""
        if "key_hash" in kwargs:
            return super().create(**kwargs)
        key = new_secret(SITE_TOKEN_PREFIX)
        token = super().create(key_hash=hash_secret(key), key_prefix=key[:12], **kwargs)
        token.key = key
        return token

    def usable(self, *, now: dt.datetime) -> SiteApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class SiteApiToken(models.Model):
    """An integration token a site's RIS or middleware uses against the REST API. Stored as the
    SHA-256 of the secret. A site has one current token (no expiry) and, while a rotation's
    overlap lasts, the previous one with its ``expires_at``."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(
        max_length=12, blank=True, help_text="The first characters of the secret, to tell it apart"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = SiteApiTokenQuerySet.as_manager()

    # The secret, only on an instance just created (never stored).
    key: str = ""

    def __str__(self) -> str:
        return f"API token {self.key_prefix}… for {self.site.code}"


class SiteMembership(models.Model):
    """A person who works for a site (its radiographers, its own radiologists, its secretaries)."""

    user = models.OneToOneField(
        "auth.User", on_delete=models.CASCADE, related_name="site_membership"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="members")

    def __str__(self) -> str:
        return f"{self.user.username} @ {self.site.code}"
