"""Pages answer a withheld study (worklists.hooks: a blind peer review) the same way wherever
the study is read: a GET goes where the user reads it instead, with why; anything else is
refused (403). The REST API answers it in its exception handler (403, with the ``url``)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect

from worklists.errors import StudyWithheld


class StudyWithheldMiddleware:
    """After MessageMiddleware: the redirect carries its message."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, StudyWithheld):
            return None
        if request.method == "GET":
            messages.info(request, str(exception))
            return redirect(exception.url)
        return HttpResponseForbidden(str(exception))
