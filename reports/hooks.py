"""The reports app's extension points: what a quality app (peer review) plugs into.

reports names no such app (tests/test_import_boundaries.py keeps it so). An app registers here
from its AppConfig.ready(); reports calls whatever is registered, and works without it:

- final signed: told, after the signature has committed, that a study's report was signed final
  for the first time (peer review samples signed reports). A listener takes ids, owns its own
  transaction and may run twice (it must be idempotent); a failing listener is logged and
  changes nothing that committed (the signature stands).
- reading tasks: a task of a reader's (a peer review) opens on the reading page, in place of
  the report editor: the app renders its panel (the report under review, read-only, and its
  form) and says whether the page must hide who read and signed the study (blind review).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Protocol

from django.db import transaction
from django.http import HttpRequest

from worklists.models import Study

__all__ = [
    "FinalSigned",
    "OpenReadingTask",
    "ReadingTaskView",
    "final_signed_after_commit",
    "reading_task_opener",
    "register_final_signed",
    "register_reading_task",
]


class FinalSigned(Protocol):
    def __call__(self, *, study_id: int, version_id: int) -> None:
        """The study's final report (``version_id``) was signed and has committed."""
        ...


_final_signed: dict[str, FinalSigned] = {}


def register_final_signed(name: str, listener: FinalSigned) -> None:
    """Registering the same name again replaces it (AppConfig.ready may run twice in tests)."""
    _final_signed[name] = listener


def final_signed_after_commit(*, study_id: int, version_id: int) -> None:
    """Call every listener once the current transaction commits (never if it rolls back).
    Robust: what a listener does is no part of signing, so its failure is logged, not raised
    to the reader whose report is signed."""
    for listener in list(_final_signed.values()):
        transaction.on_commit(
            functools.partial(listener, study_id=study_id, version_id=version_id), robust=True
        )


# Reading tasks -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadingTaskView:
    """A task as the reading page shows it: its kind's label and deadline in the header, its
    ``panel`` (HTML, a SafeString from a template) in place of the editor and the report's
    versions. ``blind``: the page hides what names who read and signed the study (the
    assignment, the issued versions, the double reading's section, the study page's link)."""

    label: str
    deadline: dt.datetime
    panel: str
    blind: bool


class OpenReadingTask(Protocol):
    def __call__(
        self, *, request: HttpRequest, study: Study, task_id: int, error: str
    ) -> ReadingTaskView | None:
        """The task ``task_id`` about ``study`` (one the user may see: the page found it
        through the scoping function) as the requesting user may see it, or None: not theirs
        to see (a 404). ``error``: a refusal of the panel's form, shown in it with what was
        posted. The reading page audits the study and its report read."""
        ...


_reading_tasks: dict[str, OpenReadingTask] = {}


def register_reading_task(kind: str, opener: OpenReadingTask) -> None:
    """``kind`` is the task's kind in its URL (worklists.hooks.ReadingOrderTask.kind);
    registering it again replaces it."""
    _reading_tasks[kind] = opener


def reading_task_opener(kind: str) -> OpenReadingTask | None:
    return _reading_tasks.get(kind)
