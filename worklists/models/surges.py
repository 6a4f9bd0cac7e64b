from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _


class Surge(models.Model):
    """A coordinator widened who may read a worklist's studies (or every worklist's) at once:
    until ``ends_at`` its studies are routed at ``tier`` at least (worklists.routing: backup
    readers, then every competent reader on shift), whatever their own escalation tier.

    Running while ``ended_at`` is empty and ``ends_at`` is ahead: routing compares with the
    time, so a surge stops widening at its end with nothing to run. Ended early by a
    coordinator (``ended_by``), by a new surge for the same worklist (superseded), or marked
    expired after its end by the periodic sweep, so that the end is an event too. Every change
    is a SurgeEvent.
    """

    class Tier(models.IntegerChoices):
        # worklists.routing.TIER_BACKUP and TIER_POOL (a migration-safe copy of the numbers)
        BACKUP = 1, _("backup readers")
        POOL = 2, _("every competent reader on shift")

    class EndReason(models.TextChoices):
        ENDED = "ended", _("Ended by a coordinator")
        SUPERSEDED = "superseded", _("Replaced by a new surge")
        EXPIRED = "expired", _("Reached its end time")

    worklist = models.ForeignKey(
        "worklists.Worklist",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="surges",
        help_text="Empty: every worklist.",
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    reason = models.TextField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="It stops widening then, by itself.")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(tier__in=(1, 2)), name="surge_tier_known"),
            models.CheckConstraint(condition=~Q(reason=""), name="surge_has_a_reason"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("started_at")), name="surge_ends_after_start"
            ),
            # One surge not yet ended per worklist, and one for every worklist: a new one
            # supersedes it (worklists.services.surges), two coordinators at once cannot both.
            models.UniqueConstraint(
                Coalesce("worklist", Value(0)),
                condition=Q(ended_at__isnull=True),
                name="one_open_surge_per_worklist",
            ),
        ]

    def __str__(self) -> str:
        return f"surge {self.id}: tier {self.tier} until {self.ends_at}"


class SurgeEvent(models.Model):
    """One row per change of a surge: started, ended, superseded, expired."""

    class Action(models.TextChoices):
        STARTED = "started", _("Started")
        ENDED = "ended", _("Ended")
        SUPERSEDED = "superseded", _("Superseded")
        EXPIRED = "expired", _("Expired")

    surge = models.ForeignKey(Surge, on_delete=models.CASCADE, related_name="events")
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
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            # The sweep and an early end racing: the end is recorded once.
            models.UniqueConstraint(
                fields=["surge"],
                condition=Q(action__in=("ended", "superseded", "expired")),
                name="one_end_per_surge",
            ),
        ]

    def __str__(self) -> str:
        return f"surge {self.surge_id}: {self.action} at {self.at}"
