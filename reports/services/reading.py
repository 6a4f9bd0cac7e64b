"""The reader's loop: after a study is signed, issued or returned, the next one by the read-next
rule, so that a shift needs no trip to the worklist in between."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.urls import reverse

from worklists import routing
from worklists.access import radiologist_of, studies_of_sites, visible_site_ids
from worklists.actors import Actor
from worklists.models import StudyStatus
from worklists.services.claims import reading_order_next


@dataclass(frozen=True, slots=True)
class NextStudy:
    study_id: int
    claimed: bool  # False: it was already the reader's, waiting in their own queue
    # Where it opens: the study's reading page, or the reader's task (a peer review) that
    # comes first in reading order, on the reading page too.
    url: str = ""

    def __post_init__(self) -> None:
        if not self.url:
            object.__setattr__(self, "url", reverse("reading", kwargs={"study_id": self.study_id}))


def study_read_next(
    *, user: AbstractBaseUser, after_study_id: int | None = None
) -> NextStudy | None:
    """The study this reader reads next, claimed for them; None when nothing is left.

    The read-next rule decides (``reading_order_next``, one transaction of its own, over the
    reader's own queue, the pool and the reader's tasks: a peer review that comes first is
    "next" too, opened at its ``url``). ``after_study_id``, the study the reader is on or has
    just finished (still held after a preliminary, or opened and not written in yet), is never
    "next": when the rule gives it, the most urgent other study waiting in the reader's queue
    is next, or nothing.
    """
    radiologist = radiologist_of(user)
    if radiologist is None:
        return None
    site_ids = visible_site_ids(user)
    answer = reading_order_next(
        user=user, radiologist_id=radiologist.id, site_ids=site_ids, actor=Actor.for_user(user)
    )
    if answer is not None and answer.task is not None:
        # The reader's task (a peer review) comes first in reading order.
        return NextStudy(study_id=answer.task.study.id, claimed=False, url=answer.task.url)
    claimed = answer.claimed if answer is not None else None
    # The rule may answer with the study the reader is on (given to them and not written in
    # yet): then the next one waiting in their queue.
    if claimed is not None and claimed.study_id != after_study_id:
        return NextStudy(study_id=claimed.study_id, claimed=not claimed.from_queue)
    queue = studies_of_sites(site_ids).filter(
        status=StudyStatus.ASSIGNED,
        assignments__radiologist_id=radiologist.id,
        assignments__ended_at__isnull=True,
    )
    if after_study_id is not None:
        queue = queue.exclude(id=after_study_id)
    waiting = (
        queue.order_by("routing_rank", "deadline", "id")
        .values_list("routing_rank", "deadline", "id")
        .first()
    )
    # The reader's first task (a peer review) may come before that study, or be all that is left.
    task = answer.first_task if answer is not None else None
    if task is not None and (waiting is None or task.position < routing.study_position(*waiting)):
        return NextStudy(study_id=task.study.id, claimed=False, url=task.url)
    return NextStudy(study_id=waiting[2], claimed=False) if waiting is not None else None
