"""The worklist WebSocket: events after commit, only for sites the user may see."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from teleradiology.asgi import application
from tests.factories import StudyFactory
from worklists.actors import Actor
from worklists.services.studies import study_mark_ready

pytestmark = pytest.mark.django_db(transaction=True)


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


def _communicator(cookie: bytes | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/worklist/", headers=headers)


def test_a_credentialed_reader_hears_that_a_study_at_their_site_became_ready(owner, site_a):
    study = StudyFactory(site=site_a)
    cookie = _session_cookie(owner.user)

    async def scenario() -> dict:
        communicator = _communicator(cookie)
        connected, _ = await communicator.connect()
        assert connected
        await database_sync_to_async(study_mark_ready)(
            study_id=study.id, actor=Actor.system("test")
        )
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert message == {"type": "study.status", "study_id": study.id, "status": "READY"}


def test_a_reader_of_another_site_hears_nothing(outsider, site_a):
    study = StudyFactory(site=site_a)
    cookie = _session_cookie(outsider.user)

    async def scenario() -> bool:
        communicator = _communicator(cookie)
        connected, _ = await communicator.connect()
        assert connected
        await database_sync_to_async(study_mark_ready)(
            study_id=study.id, actor=Actor.system("test")
        )
        nothing = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return nothing

    assert async_to_sync(scenario)() is True


def test_an_anonymous_socket_is_refused():
    async def scenario() -> tuple[bool, int | None]:
        communicator = _communicator(None)
        connected, code = await communicator.connect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert connected is False
    assert code == 4401
