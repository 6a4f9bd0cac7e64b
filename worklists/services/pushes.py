"""Pushes after commit: route a study to a reader, refill a reader's queue.

A service decides that a push is due; a Celery task of worklists.tasks carries it out once the
transaction has committed. Those tasks call the services, so the services cannot import them
without an import cycle: WorklistsConfig.ready() installs the tasks here, and a service asks for
a push through the functions below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.db import transaction

from worklists.models import Assignment

__all__ = [
    "PushTasks",
    "fill_queue_after_commit",
    "install_push_tasks",
    "refill_after_commit",
    "route_after_commit",
]


class RouteStudyTask(Protocol):
    def delay(
        self, *, study_id: int, trigger: str, exclude_radiologist_id: int | None = None
    ) -> object: ...


class FillQueueTask(Protocol):
    def delay(self, *, radiologist_id: int, trigger: str) -> object: ...


@dataclass(frozen=True, slots=True)
class PushTasks:
    route_study: RouteStudyTask
    fill_queue: FillQueueTask


_installed: list[PushTasks] = []


def install_push_tasks(tasks: PushTasks) -> None:
    """WorklistsConfig.ready() installs the Celery tasks; installing again replaces them."""
    _installed[:] = [tasks]


def _push_tasks() -> PushTasks:
    # Looked up when the push is asked for, so a missing install fails inside the service's
    # transaction (rolled back, visible) rather than silently after commit.
    if not _installed:
        raise RuntimeError("no push tasks installed: the worklists app is not ready")
    return _installed[0]


def route_after_commit(
    study_id: int,
    *,
    trigger: str,
    exclude_radiologist_id: int | None = None,
    robust: bool = True,
) -> None:
    """Push: once this transaction commits, route the study (it is READY) to a reader.

    Robust by default: what committed stays committed; a routing failure is logged, and the
    study waits READY for read next, escalation or the next push."""
    task = _push_tasks().route_study
    transaction.on_commit(
        lambda: task.delay(
            study_id=study_id, trigger=trigger, exclude_radiologist_id=exclude_radiologist_id
        ),
        robust=robust,
    )


def fill_queue_after_commit(radiologist_id: int, *, trigger: str, robust: bool = True) -> None:
    """Push: once this transaction commits, fill the reader's queue if it has room."""
    task = _push_tasks().fill_queue
    transaction.on_commit(
        lambda: task.delay(radiologist_id=radiologist_id, trigger=trigger), robust=robust
    )


def refill_after_commit(assignment: Assignment | None, *, trigger: str) -> None:
    """Push: a study left a reader's hands, so their queue has room; refill it after commit."""
    if assignment is not None:
        fill_queue_after_commit(assignment.radiologist_id, trigger=trigger)
