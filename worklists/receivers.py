"""Listeners: thin adapters from framework signals to services."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from worklists.services.claims import reader_sign_in


def reader_signed_in(sender: object, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    reader_sign_in(user_id=user.pk)
