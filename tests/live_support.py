"""Reading what the live-worklist broadcasts sent to a channel layer."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer


def drain(layer: Any, channel: str) -> list[dict[str, Any]]:
    """Every message waiting on ``channel`` (stops after half a second of quiet)."""

    async def receive_all() -> list[dict[str, Any]]:
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), timeout=0.5))
            except TimeoutError:
                return messages

    return async_to_sync(receive_all)()


class GroupListener:
    """A consumer's ear on one group of the channel layer, for tests that commit in this thread.

    Subscribed and read by one task in one event loop (a thread of its own), as a consumer is:
    the Redis PubSub layer delivers only to subscriptions alive when a message is published, and
    ends a subscription whose receive is cancelled. On the in-memory layer the task polls,
    because a message put from another thread's loop does not wake this one."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.layer = get_channel_layer()
        self._poll = isinstance(self.layer, InMemoryChannelLayer)
        self._heard: list[dict[str, Any]] = []
        self._last_heard = time.monotonic()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GroupListener:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError(f"could not listen to {self.group}: {self._failure!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # reported by __enter__ or messages()
            self._failure = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, channel)
        listening = asyncio.create_task(self._listen(channel))
        self._ready.set()
        await self._stop.wait()
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await self.layer.group_discard(self.group, channel)

    async def _listen(self, channel: str) -> None:
        while True:
            if self._poll:
                try:
                    message = await asyncio.wait_for(self.layer.receive(channel), timeout=0.05)
                except TimeoutError:
                    continue
            else:
                message = await self.layer.receive(channel)
            with self._lock:
                self._heard.append(message)
                self._last_heard = time.monotonic()

    def messages(
        self, *, at_least: int = 0, quiet: float = 0.5, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The messages heard since the last call: once ``at_least`` have come (or ``timeout``
        passed) and then ``quiet`` seconds without another."""
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                enough = len(self._heard) >= at_least
                since = time.monotonic() - max(self._last_heard, started)
            if enough and since >= quiet:
                break
            time.sleep(0.05)
        if self._failure is not None:
            raise RuntimeError(f"the listener of {self.group} failed") from self._failure
        with self._lock:
            heard, self._heard = self._heard, []
        return heard
