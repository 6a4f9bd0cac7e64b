"""What the report services refuse, each with a message a reader can act on.

Domain errors (worklists.errors): each is of one kind, which the REST API's exception handler
turns into its status; the report pages show the message.
"""

from __future__ import annotations

from typing import Any

from worklists.errors import DomainError, ErrorKind


class ReportError(DomainError):
    """Base of the refusals; ``field`` names the input at fault, if any. Without a more
    specific kind, the change does not fit the report's state."""

    kind = ErrorKind.CONFLICT


class ReportInvalid(ReportError):
    """The input is malformed or incomplete."""

    kind = ErrorKind.INVALID


class NotPermitted(ReportError):
    """The user may not make this change (not the holder, not the signer)."""

    kind = ErrorKind.NOT_PERMITTED


class WrongPassword(ReportError):
    """The re-entered password is wrong: nothing was signed."""

    kind = ErrorKind.NOT_PERMITTED
    default_field = "password"


class ReportStateConflict(ReportError):
    """The change does not fit the report's state (already signed, nothing to sign...)."""

    kind = ErrorKind.CONFLICT


class DraftConflict(ReportError):
    """The draft changed since the caller read it (another tab, another reader)."""

    kind = ErrorKind.CONFLICT
    default_field = "revision"

    def __init__(self, message: str, *, current_revision: int) -> None:
        super().__init__(message)
        self.current_revision = current_revision

    def body(self) -> dict[str, Any]:
        # The caller merges against the revision it missed.
        return {**super().body(), "current_revision": self.current_revision}


class SigningLocked(WrongPassword):
    """Too many wrong passwords lately: signing is refused without checking."""
