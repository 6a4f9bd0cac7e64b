"""Claiming due outbox rows for delivery: a short transaction, a lease, backoff between attempts.

A claim (``SKIP LOCKED``: drainers never wait for each other) counts the attempt and moves
``next_attempt_at`` forward by a lease: a worker that dies mid-send leaves a row that is simply
due again later. A row waits while an earlier row of its study is undelivered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from hl7_interface.models import OutboundMessage, OutboundStatus


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    id: int
    attempt: int
    study_id: int
    site_id: int


def retry_delay(attempt: int, *, rng: random.Random | None = None) -> dt.timedelta:
    """Exponential backoff with full jitter in its upper half: base * 2**(attempt-1), capped."""
    ceiling = min(
        settings.HL7_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0), settings.HL7_RETRY_MAX_SECONDS
    )
    fraction = 0.5 + (rng or random).random() / 2
    return dt.timedelta(seconds=ceiling * fraction)


def _lease(claimed: int = 1) -> dt.timedelta:
    """Long enough for a worker to connect and send every row it claimed, one after another,
    each waiting its ACK; a row claimed by a worker that died is due again after it. Shorter, and
    rows still waiting their turn in a slow batch would be claimed and sent twice."""
    return dt.timedelta(
        seconds=settings.HL7_CONNECT_TIMEOUT_SECONDS
        + claimed * (settings.HL7_ACK_TIMEOUT_SECONDS + settings.HL7_CONNECT_TIMEOUT_SECONDS)
        + 30
    )


def outbox_claim(
    *, limit: int, ids: Iterable[int] | None = None, study_id: int | None = None
) -> list[Claim]:
    """Claim up to ``limit`` due deliveries (optionally only these ids / this study)."""
    now = timezone.now()
    earlier_undelivered = OutboundMessage.objects.filter(
        study_id=OuterRef("study_id"), id__lt=OuterRef("id")
    ).exclude(status=OutboundStatus.DELIVERED)
    due = (
        OutboundMessage.objects.filter(status=OutboundStatus.PENDING, next_attempt_at__lte=now)
        .filter(~Exists(earlier_undelivered))
        .order_by("next_attempt_at", "id")
    )
    if ids is not None:
        due = due.filter(id__in=list(ids))
    if study_id is not None:
        due = due.filter(study_id=study_id)
    with transaction.atomic():
        rows = list(
            due.select_for_update(skip_locked=True, of=("self",)).values_list(
                "id", "attempts", "study_id", "site_id"
            )[:limit]
        )
        if not rows:
            return []
        OutboundMessage.objects.filter(id__in=[r[0] for r in rows]).update(
            attempts=F("attempts") + 1,
            next_attempt_at=now + _lease(len(rows)),
            last_attempt_at=now,
        )
    return [Claim(id=r[0], attempt=r[1] + 1, study_id=r[2], site_id=r[3]) for r in rows]
