"""The reader's loop: after a study is signed, issued or returned, the next one by the read-next
rule, so that a shift needs no trip to the worklist in between."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser

from worklists.access import radiologist_of, studies_visible_to
from worklists.actors import Actor
from worklists.models import StudyStatus
from worklists.services.claims import study_claim_next


@dataclass(frozen=True, slots=True)
class NextStudy:
    study_id: int
    claimed: bool  # False: it was already the reader's, waiting in their own queue


def study_read_next(
    *, user: AbstractBaseUser, after_study_id: int | None = None
) -> NextStudy | None:
    """The study this reader reads next, claimed for them; None when nothing is left.

    The read-next rule decides (``study_claim_next``, one transaction of its own, over the
    reader's own queue and the pool). ``after_study_id``, the study the reader is on or has
    just finished (still held after a preliminary, or opened and not written in yet), is never
    "next": when the rule gives it, the most urgent other study waiting in the reader's queue
    is next, or nothing.
    """
    radiologist = radiologist_of(user)
    if radiologist is None:
        return None
    claimed = study_claim_next(radiologist_id=radiologist.id, actor=Actor.for_user(user))
    # The rule may answer with the study the reader is on (given to them and not written in
    # yet): then the next one waiting in their queue.
    if claimed is not None and claimed.study_id != after_study_id:
        return NextStudy(study_id=claimed.study_id, claimed=not claimed.from_queue)
    queue = studies_visible_to(user).filter(
        status=StudyStatus.ASSIGNED,
        assignments__radiologist_id=radiologist.id,
        assignments__ended_at__isnull=True,
    )
    if after_study_id is not None:
        queue = queue.exclude(id=after_study_id)
    waiting = queue.order_by("routing_rank", "deadline", "id").values_list("id", flat=True).first()
    return NextStudy(study_id=waiting, claimed=False) if waiting is not None else None
