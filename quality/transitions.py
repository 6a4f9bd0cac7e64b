"""The review task's states and the changes allowed between them: one table, pure Python.

UNASSIGNED: sampled, waiting for an eligible reviewer (coordinators see it). ASSIGNED: one
reviewer has it. SCORED: the reviewer scored it (final). CANCELLED: a coordinator withdrew it
(final). A coordinator may reassign an open review to another eligible reviewer (ASSIGNED again,
with a reason). A reviewer who can no longer take it (credential lapsed) gives it back: UNASSIGNED.
"""

from __future__ import annotations

UNASSIGNED = "UNASSIGNED"
ASSIGNED = "ASSIGNED"
SCORED = "SCORED"
CANCELLED = "CANCELLED"

ALLOWED: dict[str, frozenset[str]] = {
    "": frozenset({UNASSIGNED}),  # sampled: the task is created
    UNASSIGNED: frozenset({ASSIGNED, CANCELLED}),
    # ASSIGNED to ASSIGNED: a coordinator reassigned it to another reviewer.
    ASSIGNED: frozenset({ASSIGNED, UNASSIGNED, SCORED, CANCELLED}),
    SCORED: frozenset(),
    CANCELLED: frozenset(),
}


class IllegalReviewTransition(ValueError):
    """A change the table does not allow (a bug, or a race lost: the caller re-read the row)."""


def check(from_status: str, to_status: str) -> None:
    if to_status not in ALLOWED.get(from_status, frozenset()):
        raise IllegalReviewTransition(
            f"a review cannot go from {from_status or 'nothing'} to {to_status}"
        )
