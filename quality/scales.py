"""Which scale a review is scored on, and its levels (reads; the scales are edited in the admin).

A policy names its scale; a policy that names none (made before its scale was chosen) scores
on the default one, RADPEER as seeded."""

from __future__ import annotations

from django.db import transaction
from django.utils import translation

from quality.models import (
    RADPEER_CODE,
    SIGNIFICANT_SCORES,
    PeerReviewPolicy,
    RadpeerScore,
    ReviewScale,
    ReviewScaleLevel,
)


def default_scale() -> ReviewScale:
    """The default scale; RADPEER when none is marked (migration 0003 seeds and marks it)."""
    scale = ReviewScale.objects.filter(is_default=True).first()
    if scale is None:
        scale = radpeer_ensure()
    return scale


def radpeer_ensure() -> ReviewScale:
    """RADPEER, seeded again if its rows are gone (a database emptied after the migrations:
    a flushed test database, a restored dump without data): never an error for a review."""
    with transaction.atomic():
        scale, created = ReviewScale.objects.get_or_create(
            code=RADPEER_CODE,
            defaults={
                "name": "RADPEER",
                "is_default": not ReviewScale.objects.filter(is_default=True).exists(),
            },
        )
        if created:
            ReviewScaleLevel.objects.bulk_create(
                ReviewScaleLevel(
                    scale=scale,
                    position=position,
                    code=score.value,
                    label=label,
                    significant=score in SIGNIFICANT_SCORES,
                    needs_comment=score != RadpeerScore.CONCUR,
                )
                for position, (score, label) in enumerate(_radpeer_labels())
            )
    return scale


def scale_id_of(policy: PeerReviewPolicy) -> int:
    return policy.scale_id if policy.scale_id is not None else default_scale().id


def levels_of(scale_id: int | None) -> list[ReviewScaleLevel]:
    """The scale's levels in its order (the default scale's when none is named)."""
    if scale_id is None:
        scale_id = default_scale().id
    return list(
        ReviewScaleLevel.objects.filter(scale_id=scale_id)
        .select_related("scale")
        .order_by("position", "id")
    )


def level_key(scale_code: str, code: str) -> str:
    """A level's key in figures and their API: RADPEER's bare code (1, 2a...), another scale's
    prefixed with the scale's code (``local:B``), so keys of two scales never collide."""
    return code if scale_code == RADPEER_CODE else f"{scale_code}:{code}"


def _radpeer_labels() -> list[tuple[RadpeerScore, str]]:
    """The levels with their English labels (the catalogue's msgids: shown translated)."""
    with translation.override("en"):
        return [(score, str(score.label)) for score in RadpeerScore]
