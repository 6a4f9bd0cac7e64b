"""The reports app's extension points: what a quality app (peer review) plugs into.

reports names no such app (tests/test_import_boundaries.py keeps it so). An app registers here
from its AppConfig.ready(); reports calls whatever is registered, and works without it:

- final signed: told, after the signature has committed, that a study's report was signed final
  for the first time (peer review samples signed reports). A listener takes ids, owns its own
  transaction and may run twice (it must be idempotent); a failing listener is logged and
  changes nothing that committed (the signature stands).
"""

from __future__ import annotations

import functools
from typing import Protocol

from django.db import transaction

__all__ = ["FinalSigned", "final_signed_after_commit", "register_final_signed"]


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
