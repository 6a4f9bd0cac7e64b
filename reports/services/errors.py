"""What the report services refuse, each with a message a reader can act on."""

from __future__ import annotations


class ReportError(Exception):
    """Base of the refusals; ``field`` names the input at fault, if any."""

    field = "non_field_errors"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class ReportInvalid(ReportError):
    """The input is malformed or incomplete."""


class NotPermitted(ReportError):
    """The user may not make this change (not the holder, not the signer)."""


class WrongPassword(ReportError):
    """The re-entered password is wrong: nothing was signed."""

    field = "password"


class ReportStateConflict(ReportError):
    """The change does not fit the report's state (already signed, nothing to sign...)."""


class DraftConflict(ReportError):
    """The draft changed since the caller read it (another tab, another reader)."""

    field = "revision"

    def __init__(self, message: str, *, current_revision: int) -> None:
        super().__init__(message)
        self.current_revision = current_revision


class SigningLocked(WrongPassword):
    """Too many wrong passwords lately: signing is refused without checking."""
