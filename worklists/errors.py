"""What a service refuses, and why, said once in the core; each edge translates it.

Every domain error is of one of four kinds. The REST API's exception handler turns the kind into
a status code (worklists.api_errors), the HL7 listener into an AE acknowledgement with the
offending segment and field, pages into a message or a 404. A rule is therefore stated in one
service (or a pure module such as validation.py), never again in a view.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NON_FIELD = "non_field_errors"


class ErrorKind(enum.StrEnum):
    INVALID = "invalid"  # the input breaks a rule: send it corrected
    NOT_FOUND = "not_found"  # no such thing, or not one the caller may see (never which)
    NOT_PERMITTED = "not_permitted"  # the caller's role may not do this
    CONFLICT = "conflict"  # the thing's current state does not allow it (now)


class DomainError(Exception):
    """A refusal with a specific message; ``field`` names the offending part of the input
    ("study.modality"), or ``non_field_errors`` for the request as a whole."""

    kind: ErrorKind = ErrorKind.INVALID
    default_field: str = NON_FIELD

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field or self.default_field

    def errors(self) -> dict[str, Any]:
        """The refusal as field errors, the REST API's ``{"errors": ...}`` body."""
        return {self.field: [str(self)]}

    def describe(self) -> str:
        """One line for a stored message's error column."""
        return f"{self.field}: {self}"

    def body(self) -> dict[str, Any]:
        """The REST API's answer body."""
        return {"errors": self.errors()}


class InvalidInput(DomainError):
    kind = ErrorKind.INVALID


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class NotPermitted(DomainError):
    """The permission error of the domain. Not the builtin PermissionError: that is an OSError,
    and socket code catching OSError must not swallow a refusal."""

    kind = ErrorKind.NOT_PERMITTED


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT


class StudyWithheld(NotPermitted):
    """The caller may see the study, but not through its ordinary pages now: an adapter
    withholds it (a blind peer review names no author; ``url`` is where the caller reads it)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url

    def body(self) -> dict[str, Any]:
        return {"errors": self.errors(), "url": self.url}


class StudyNotFound(NotFound):
    """No such study, or not one the caller may see: the same answer for both."""

    def __init__(self, message: str = "No such study.", *, field: str | None = None) -> None:
        super().__init__(message, field=field)

    def body(self) -> dict[str, Any]:
        # As Django's own 404s: nothing that tells whether the study exists elsewhere.
        return {"detail": str(self)}


class UnreadableBody(Exception):
    """The body cannot be read as the document at all (not JSON, a media type not taken): the
    edge's own parse error, wrapped so an intake service stores it and hands it back."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class KeptForInspection(Exception):
    """An inbound message refused and stored failed with why (nothing is lost): ``cause`` is
    the refusal, ``inbound_id`` the stored message, which the answer names."""

    def __init__(self, cause: Exception, *, inbound_id: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.inbound_id = inbound_id


Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule at ``path`` in the input document (``("patient", "identifiers", 0,
    "value")``): the REST API's field names, which the HL7 and DICOM paths map to theirs."""

    path: Path
    message: str

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path)


class InvalidData(InvalidInput):
    """One or more broken rules of the input, each with its place; all are reported at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("InvalidData needs at least one problem")
        self.problems = tuple(problems)
        super().__init__(
            "; ".join(f"{p.dotted}: {p.message}" for p in self.problems),
            field=_field_of(self.problems[0].path),
        )

    def __str__(self) -> str:
        return "; ".join(p.message for p in self.problems)

    def errors(self) -> dict[str, Any]:
        """Nested like a DRF serializer's errors: list indexes become lists of which only the
        offending items carry errors."""
        tree: dict[str, Any] = {}
        for problem in self.problems:
            _insert(tree, list(problem.path), problem.message)
        return tree

    def describe(self) -> str:
        return "; ".join(f"{p.dotted}: {p.message}" for p in self.problems)


def _field_of(path: Path) -> str:
    """The dotted place without list indexes and the trailing ``value``: the field a
    channel maps to its own location ("patient.identifiers" is PID-3 in HL7)."""
    names = [str(p) for p in path if not isinstance(p, int)]
    if len(names) > 1 and names[-1] == "value":
        names.pop()
    return ".".join(names) or NON_FIELD


def _insert(node: Any, path: list[str | int], message: str) -> None:
    key, rest = path[0], path[1:]
    if isinstance(node, list):
        assert isinstance(key, int)
        while len(node) <= key:
            node.append({})
        container: Any = node
    else:
        container = node
    if not rest:
        container[key] = [*_as_list(_get(container, key)), message]
        return
    child = _get(container, key)
    if not isinstance(child, dict | list):
        child = [] if isinstance(rest[0], int) else {}
        container[key] = child
    _insert(child, rest, message)


def _get(container: Any, key: str | int) -> Any:
    if isinstance(container, list):
        return container[key] if isinstance(key, int) and key < len(container) else None
    return container.get(key)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
