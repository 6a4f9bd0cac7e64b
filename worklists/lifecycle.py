"""The study lifecycle: one table of allowed transitions. Pure: no ORM, no Django settings."""

from __future__ import annotations

from worklists.errors import Conflict
from worklists.models.studies import StudyStatus as S

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.ORDERED: frozenset({S.READY, S.CANCELLED, S.ON_HOLD}),
    S.READY: frozenset({S.ASSIGNED, S.CANCELLED, S.REJECTED, S.ON_HOLD}),
    # ASSIGNED -> ASSIGNED is a reassignment to another reader.
    S.ASSIGNED: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.READY, S.CANCELLED, S.REJECTED, S.ON_HOLD}),
    S.IN_PROGRESS: frozenset(
        {S.ASSIGNED, S.READY, S.PRELIMINARY, S.FINAL, S.CANCELLED, S.REJECTED, S.ON_HOLD}
    ),
    S.PRELIMINARY: frozenset({S.FINAL, S.CANCELLED}),
    S.ON_HOLD: frozenset({S.ORDERED, S.READY, S.CANCELLED}),
    S.FINAL: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
}

TERMINAL_STATUSES = frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if not targets)
# Statuses in which a radiologist holds the study (an active assignment exists).
HELD_STATUSES = frozenset({S.ASSIGNED, S.IN_PROGRESS, S.PRELIMINARY})


class IllegalTransition(Conflict):
    """A transition the lifecycle does not allow; the message names both states."""

    default_field = "status"

    def __init__(self, study_id: int, from_status: str, to_status: str) -> None:
        self.study_id = study_id
        self.from_status = from_status
        self.to_status = to_status
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS.get(from_status, ()))) or "none"
        super().__init__(
            f"study {study_id} cannot go from {from_status} to {to_status} "
            f"(allowed from {from_status}: {allowed})"
        )


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, frozenset())
