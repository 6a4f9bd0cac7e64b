"""Backfill of 0002: RADPEER seeded as the default scale; every policy and review scores on it;
a scored review gets the level of its code; a policy's start is its first decision (else now),
so the sweep reaches back to every final its worklist signed since."""

from django.db import migrations
from django.db.models import Min
from django.utils import timezone

# The labels are the msgids of quality.models.RadpeerScore: shown translated (shown_label).
RADPEER_LEVELS = [
    ("1", "1: concur with the interpretation", False, False),
    ("2a", "2a: understandable miss, unlikely to matter clinically", False, True),
    ("2b", "2b: understandable miss, likely to matter clinically", True, True),
    ("3a", "3a: should be made most of the time, unlikely to matter", False, True),
    ("3b", "3b: should be made most of the time, likely to matter", True, True),
]


def forwards(apps, schema_editor):
    Scale = apps.get_model("quality", "ReviewScale")
    Level = apps.get_model("quality", "ReviewScaleLevel")
    Policy = apps.get_model("quality", "PeerReviewPolicy")
    Task = apps.get_model("quality", "ReviewTask")
    Sampling = apps.get_model("quality", "ReviewSampling")
    radpeer, created = Scale.objects.get_or_create(
        code="radpeer",
        defaults={"name": "RADPEER", "is_default": not Scale.objects.filter(is_default=True).exists()},
    )
    if created:
        for position, (code, label, significant, needs_comment) in enumerate(RADPEER_LEVELS):
            Level.objects.create(
                scale=radpeer,
                position=position,
                code=code,
                label=label,
                significant=significant,
                needs_comment=needs_comment,
            )
    Policy.objects.filter(scale__isnull=True).update(scale=radpeer)
    Task.objects.filter(scale__isnull=True).update(scale=radpeer)
    for level in Level.objects.filter(scale=radpeer):
        Task.objects.filter(scale=radpeer, score=level.code, level__isnull=True).update(level=level)
    now = timezone.now()
    for policy in Policy.objects.filter(active_since__isnull=True):
        first = Sampling.objects.filter(study__worklist_id=policy.worklist_id).aggregate(
            first=Min("decided_at")
        )["first"]
        policy.active_since = first or now
        policy.save(update_fields=["active_since"])


class Migration(migrations.Migration):
    dependencies = [("quality", "0002_review_scales_expand")]

    # Backwards: the rows stay (0002's columns go with its own reversal).
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
