"""A coordinator's change of a peer-review policy (the admin's save calls this)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from quality.models import PeerReviewPolicy


def policy_save(
    *, policy: PeerReviewPolicy, was_active: bool, now: dt.datetime | None = None
) -> PeerReviewPolicy:
    """Save ``policy`` as edited; switched on (new, or back on after a pause), it starts now:
    the sweep samples the finals signed from now on, not those signed while it was off."""
    with transaction.atomic():
        if policy.is_active and not was_active:
            policy.active_since = now or timezone.now()
            policy.swept_until = None
        policy.save()
    return policy
