"""Closed days' turnaround kept (docs/indicators.md, "Closed days kept").

A month's exact percentiles sort its 200,000 spans at every look (about 0.4 s at regional
volume); a closed day's spans no longer change, so each closed day keeps them once, counted per
whole minute, and a period's percentiles are taken from the kept counts of its closed days and
the milestone rows of the rest (today, and a day changed since it was kept). A day is kept by
``indicators.rollup.keep_day``; a change to one of its milestone rows makes the database drop
its ``KeptDay`` (a trigger, indicators/migrations/0002), so its figures come from its rows again
until it is kept anew. The counts are only read through a ``KeptDay``: those of a dropped day
wait, unread, to be replaced.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class KeptDay(models.Model):
    """A local day, [starts_at, ends_at), whose studies signed final are counted in
    ``DaySigned``, ``DaySpan`` and ``DaySigner`` as they were at ``kept_at``."""

    day = models.DateField(primary_key=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    kept_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["starts_at"], name="kept_day_starts_at")]

    def __str__(self) -> str:
        return str(self.day)


class _DayGroup(models.Model):
    """A kept day's studies signed final of one site and priority (the milestones' copies)."""

    day = models.DateField()
    site = models.ForeignKey(
        "worklists.Site",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    priority = models.CharField(max_length=20, null=True)  # noqa: DJ001 (the milestones' copy)

    class Meta:
        abstract = True


class DaySigned(_DayGroup):
    """A kept day's studies signed final, per site and priority: how many, with a preliminary,
    with a deadline, within it."""

    signed = models.PositiveIntegerField()
    with_preliminary = models.PositiveIntegerField()
    with_deadline = models.PositiveIntegerField()
    within_deadline = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="day_signed_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.site_id} {self.priority}: {self.signed}"


class DaySpan(_DayGroup):
    """A kept day's studies signed final, per site and priority, whose ``span`` (one of
    indicators.rollup.SPANS) took ``minute`` whole minutes."""

    span = models.CharField(max_length=24)
    minute = models.IntegerField()
    studies = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day", "span"], name="day_span_day_span")]

    def __str__(self) -> str:
        return f"{self.day} {self.site_id} {self.priority} {self.span} {self.minute}'"


class DaySigner(models.Model):
    """A kept day's studies signed final, per worklist, signer and work units: how many, and
    how many of them STAT (the per-reader and fairness tables of a viewer of every site)."""

    day = models.DateField()
    worklist = models.ForeignKey(
        "worklists.Worklist",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    work_units = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    signed = models.PositiveIntegerField()
    stat = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="day_signer_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.worklist_id} {self.signed_by_id} {self.work_units}: {self.signed}"
