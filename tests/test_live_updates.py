"""The live socket (worklists/consumers.py) fed by the one broadcast mechanism (worklists/live.py):
each role hears only the studies it may see, nothing before or without a commit, and a
reconnecting client resyncs from the time of the last message it saw."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone

from teleradiology.asgi import application
from tests.factories import StudyFactory, ready_study
from worklists import live
from worklists.actors import Actor
from worklists.models import Study, StudyEvent, StudyStatus
from worklists.services.ai_findings import FindingInput, ai_finding_report
from worklists.services.studies import study_mark_ready
from worklists.services.surges import surge_start

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.system("test")


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


def _heard(user, change: Callable[[], Any], *, expect: int) -> list[dict]:
    """Connect as ``user``, run ``change`` (synchronous, its own transaction), and return the
    ``expect`` messages the socket received, after checking that no further one came."""
    cookie = _session_cookie(user)

    async def scenario() -> list[dict]:
        communicator = _communicator(cookie)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        await database_sync_to_async(change)()
        messages = [await communicator.receive_json_from(timeout=5) for _ in range(expect)]
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return messages

    return async_to_sync(scenario)()


def _mark_ready(*studies) -> Callable[[], None]:
    def change() -> None:
        for study in studies:
            study_mark_ready(study_id=study.id, actor=SYSTEM)

    return change


# --- who hears what ------------------------------------------------------------------------------


def test_a_credentialed_reader_hears_that_a_study_at_their_site_became_ready(owner, site_a):
    study = StudyFactory(site=site_a)
    before = live.now_ms()

    [message] = _heard(owner.user, _mark_ready(study), expect=1)

    assert {k: v for k, v in message.items() if k != "at"} == {
        "type": "study.status",
        "study_id": study.id,
        "status": "READY",
    }
    assert before <= message["at"] <= live.now_ms()


def test_a_reader_hears_only_their_sites(owner, site_a, site_b):
    theirs, other_site = StudyFactory(site=site_a), StudyFactory(site=site_b)

    messages = _heard(owner.user, _mark_ready(other_site, theirs), expect=1)

    assert [m["study_id"] for m in messages] == [theirs.id]


def test_a_reader_of_another_site_hears_nothing(outsider, site_a):
    study = StudyFactory(site=site_a)

    assert _heard(outsider.user, _mark_ready(study), expect=0) == []


def test_a_site_user_hears_their_own_site_only(site_user, site_a, site_b):
    own, other_site = StudyFactory(site=site_a), StudyFactory(site=site_b)

    messages = _heard(site_user, _mark_ready(other_site, own), expect=1)

    assert [m["study_id"] for m in messages] == [own.id]


def test_a_coordinator_hears_every_site(coordinator, site_a, site_b):
    at_a, at_b = StudyFactory(site=site_a), StudyFactory(site=site_b)

    messages = _heard(coordinator, _mark_ready(at_a, at_b), expect=2)

    assert [m["study_id"] for m in messages] == [at_a.id, at_b.id]


def test_an_anonymous_socket_is_refused():
    async def scenario() -> tuple[bool, int | None]:
        communicator = _communicator(None)
        connected, code = await communicator.connect(timeout=5)
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert connected is False
    assert code == 4401


# --- after commit only ---------------------------------------------------------------------------


class _RolledBack(Exception):
    pass


def test_nothing_is_sent_for_a_rolled_back_transaction(coordinator, site_a):
    study = StudyFactory(site=site_a)

    def change_then_fail() -> None:
        try:
            with transaction.atomic():
                study_mark_ready(study_id=study.id, actor=SYSTEM)
                raise _RolledBack
        except _RolledBack:
            pass
        live.flush()

    assert _heard(coordinator, change_then_fail, expect=0) == []
    study.refresh_from_db()
    assert study.status == "ORDERED"


def test_changes_committed_together_are_sent_once_the_transaction_commits(coordinator, site_a):
    first, second = StudyFactory(site=site_a), StudyFactory(site=site_a)

    def one_transaction() -> None:
        with transaction.atomic():
            _mark_ready(first, second)()

    messages = _heard(coordinator, one_transaction, expect=2)

    assert sorted(m["study_id"] for m in messages) == sorted([first.id, second.id])


def test_with_batching_a_burst_is_sent_by_the_broadcaster_after_the_interval(
    owner, site_a, settings
):
    settings.LIVE_BATCH_SECONDS = 0.05
    studies = [StudyFactory(site=site_a) for _ in range(5)]

    # A reader of site A, not a coordinator: a coordinator hears every site, so anything else
    # published meanwhile would count, and "nothing more" would not be about this burst.
    messages = _heard(owner.user, _mark_ready(*studies), expect=5)

    assert sorted(m["study_id"] for m in messages) == sorted(s.id for s in studies)


def test_with_batching_a_change_waits_in_the_broadcaster_until_its_batch_is_sent(site_a, settings):
    settings.LIVE_BATCH_SECONDS = 60.0  # the broadcaster's thread will not send in this test
    broadcaster = live.LiveBroadcaster()
    layer = get_channel_layer()
    group = live.site_group(site_a.id)

    async def scenario() -> tuple[list[int], list[int]]:
        # Subscribed and read by one task in one event loop, as a consumer is: the PubSub layer
        # delivers only to live subscriptions, and a cancelled receive ends the subscription.
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        heard: list[int] = []

        async def listen() -> None:
            while True:
                heard.append((await layer.receive(channel))["study_id"])

        listener = asyncio.create_task(listen())
        try:
            for study_id in (1, 2):
                change = {"study_id": study_id, "site_id": site_a.id, "event": "e", "status": ""}
                await sync_to_async(broadcaster.add)([{**change, "at": 1}])
            await asyncio.sleep(0.5)
            before_flush = list(heard)
            await sync_to_async(broadcaster.flush)()
            for _ in range(50):
                if len(heard) >= 2:
                    break
                await asyncio.sleep(0.1)
            return before_flush, list(heard)
        finally:
            listener.cancel()
            await layer.group_discard(group, channel)

    try:
        before_flush, after_flush = async_to_sync(scenario)()
    finally:
        broadcaster.close()

    assert before_flush == []
    assert after_flush == [1, 2]


# --- resync after a reconnect --------------------------------------------------------------------


def _resync(user, request: Any) -> dict:
    cookie = _session_cookie(user)

    async def scenario() -> dict:
        communicator = _communicator(cookie)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        await communicator.send_json_to(request)
        reply = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return reply

    return async_to_sync(scenario)()


def _backdate_changes(study, *, minutes: int) -> None:
    """As if ``study`` last changed ``minutes`` ago: its events and its row."""
    then = timezone.now() - dt.timedelta(minutes=minutes)
    StudyEvent.objects.filter(study=study).update(at=then)
    Study.objects.filter(id=study.id).update(updated_at=then)


def test_a_reconnecting_reader_gets_the_ids_of_their_studies_changed_since_their_last_message(
    owner, site_a, site_b
):
    old, changed = StudyFactory(site=site_a), StudyFactory(site=site_a)
    elsewhere = StudyFactory(site=site_b)
    for study in (old, changed, elsewhere):
        study_mark_ready(study_id=study.id, actor=SYSTEM)
    _backdate_changes(old, minutes=10)
    last_seen = live.now_ms() - 5 * 60 * 1000

    reply = _resync(owner.user, {"type": "resync", "since": last_seen})

    assert reply["type"] == "resync"
    assert reply["full"] is False
    assert reply["study_ids"] == [changed.id]  # not the older change, not the other site's
    assert reply["at"] >= last_seen


def test_a_resync_lists_a_study_whose_row_changed_without_a_lifecycle_event(owner, site_a, neuro):
    """A critical AI finding on a study being read moves its deadline and rank but not its
    status: no event is written, and a reconnecting list must still refetch the row."""
    study = ready_study(site_a, neuro, status=StudyStatus.IN_PROGRESS)
    _backdate_changes(study, minutes=10)
    last_seen = live.now_ms() - 5 * 60 * 1000
    finding = FindingInput(
        code="ICH",
        description="Suspected intracranial haemorrhage",
        confidence=Decimal("0.930"),
        source="NeuroScan AI 4.2",
        reported_at=timezone.now(),
    )
    ai_finding_report(study_id=study.id, finding=finding, actor=SYSTEM)
    assert not StudyEvent.objects.filter(
        study=study, at__gte=timezone.now() - dt.timedelta(minutes=5)
    )

    reply = _resync(owner.user, {"type": "resync", "since": last_seen})

    assert reply["full"] is False
    assert reply["study_ids"] == [study.id]


def test_a_client_that_missed_a_surge_notice_is_told_to_refetch_everything(
    owner, coordinator, neuro
):
    last_seen = live.now_ms() - 60_000
    assert _resync(owner.user, {"type": "resync", "since": last_seen})["full"] is False
    surge_start(
        actor=Actor(user_id=coordinator.id, label="coord"),
        worklist_id=neuro.id,
        tier=None,
        reason="CT outage",
        ends_at=timezone.now() + dt.timedelta(hours=2),
    )

    reply = _resync(owner.user, {"type": "resync", "since": last_seen})

    assert reply["full"] is True  # the worklist's surge line is the region's, not a study's


def test_a_client_away_longer_than_the_resync_window_is_told_to_refetch_everything(
    coordinator, settings
):
    settings.LIVE_RESYNC_MAX_SECONDS = 60

    reply = _resync(coordinator, {"type": "resync", "since": live.now_ms() - 61_000})

    assert reply["full"] is True
    assert reply["study_ids"] == []


def test_more_changes_than_a_resync_lists_means_refetch_everything(coordinator, site_a, settings):
    settings.LIVE_RESYNC_MAX_STUDIES = 2
    for _ in range(3):
        study_mark_ready(study_id=StudyFactory(site=site_a).id, actor=SYSTEM)

    reply = _resync(coordinator, {"type": "resync", "since": live.now_ms() - 1000})

    assert reply["full"] is True


@pytest.mark.parametrize(
    "request_body",
    [{"type": "resync"}, {"type": "resync", "since": "yesterday"}, {"type": "subscribe"}, [1]],
)
def test_a_malformed_request_gets_a_clear_error(coordinator, request_body):
    reply = _resync(coordinator, request_body)

    assert reply["type"] == "error"
    assert "resync" in reply["detail"] or "since" in reply["detail"]
