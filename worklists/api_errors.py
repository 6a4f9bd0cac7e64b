"""The REST API's one exception handler: every 4xx body with field errors is
{"errors": {field: [messages]}}, and a domain error (worklists.errors) becomes its status here,
so API views do not translate refusals one by one.

invalid -> 400, not found or not visible -> 404, not permitted -> 403, conflict -> 409.
"""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from worklists.errors import (
    NON_FIELD,
    DomainError,
    ErrorKind,
    InvalidData,
    KeptForInspection,
    Problem,
)

STATUS_OF_KIND = {
    ErrorKind.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.NOT_PERMITTED: status.HTTP_403_FORBIDDEN,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, KeptForInspection):
        response = _response(exc.cause, context, errors_shape=True)
        if response is not None and isinstance(response.data, dict):
            response.data["inbound_id"] = exc.inbound_id
        return response
    return _response(exc, context, errors_shape=False)


def _response(exc: Exception, context: dict[str, Any], *, errors_shape: bool) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.body(), status=STATUS_OF_KIND[exc.kind])
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        errors = response.data if isinstance(response.data, dict) else {NON_FIELD: response.data}
        response.data = {"errors": errors}
    elif errors_shape and isinstance(exc, APIException):
        # An inbound message's refusal names the message: one shape for all its failures.
        response.data = {"errors": {NON_FIELD: [str(exc.detail)]}}
    return response


def invalid_data(errors: Any, path: tuple[str | int, ...] = ()) -> InvalidData:
    """A serializer's (nested) errors as the domain's InvalidData, so a shape error is stored
    and answered like a broken rule."""
    return InvalidData(list(_problems(errors, path)) or [Problem((NON_FIELD,), "invalid")])


def _problems(errors: Any, path: tuple[str | int, ...]) -> list[Problem]:
    if isinstance(errors, dict):
        return [p for key, value in errors.items() for p in _problems(value, (*path, key))]
    if isinstance(errors, list):
        if all(isinstance(e, dict) for e in errors):
            return [p for i, value in enumerate(errors) for p in _problems(value, (*path, i))]
        return [Problem(path or (NON_FIELD,), str(e)) for e in errors]
    return [Problem(path or (NON_FIELD,), str(errors))]
