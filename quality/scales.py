"""Which scale a review is scored on, and its levels (reads; the scales are edited in the admin).

A policy names its scale; a policy that names none (made before its scale was chosen) scores
on the default one, RADPEER as seeded."""

from __future__ import annotations

from quality.models import RADPEER_CODE, PeerReviewPolicy, ReviewScale, ReviewScaleLevel


def default_scale() -> ReviewScale:
    """The default scale; RADPEER when none is marked (the seed marks it)."""
    scale = ReviewScale.objects.filter(is_default=True).first()
    if scale is None:
        scale = ReviewScale.objects.get(code=RADPEER_CODE)
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
