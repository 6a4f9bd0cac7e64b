"""The listener's worker threads: blocking database work off the event loop, in batches.

Each thread has its own database connection. The frames waiting when a worker becomes free, from
all connections, are handed on as one batch (group commit: one commit's cost shared by many).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections, connections

Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]
BatchHandler = Callable[[list[tuple[bytes, str]]], list[Any]]


@dataclass(frozen=True, slots=True)
class FrameJob:
    """A received frame waiting for a worker; frames queued together are applied together."""

    payload: bytes
    peer: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class WorkerPool:
    """Threads that run blocking jobs for the event loop and close their database connections
    when stopped (so a test database can be dropped and a restart leaves nothing open).

    Frames are group-committed: a worker that becomes free takes every frame waiting (up to
    ``batch_max``, from all connections) and hands them to ``on_frames`` as one batch, one
    transaction. It waits (at most ``window`` seconds) for more only while ``expected()`` says
    frames are about to come: connections that are sending right now and are not already
    waiting for an ACK. A lone sender, or senders that are all waiting, are never kept waiting.
    """

    def __init__(
        self,
        size: int,
        *,
        on_frames: BatchHandler | None = None,
        batch_max: int = 1,
        window: float = 0.0,
        expected: Callable[[], int] | None = None,
    ) -> None:
        # Not queue.SimpleQueue: on CPython 3.11 its get(timeout=...), with the sub-millisecond
        # waits of _collect and other workers waiting on the same queue, was seen to block for
        # good: a worker held a frame that was never answered (reproduced outside the listener
        # with two timed getters and one putter, about once in ten runs of 20 s). queue.Queue
        # waits on a condition, one lock per waiter, and its timed waits do return.
        self._jobs: queue.Queue[Job | FrameJob | None] = queue.Queue()
        self._on_frames = on_frames
        self._batch_max = max(1, batch_max)
        self._window = window
        self._expected = expected
        self._threads = [
            threading.Thread(target=self._work, name=f"hl7-worker-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        try:
            pending = self._jobs.get()
            while pending is not None:
                if isinstance(pending, FrameJob):
                    batch = [pending]
                    taken, following = self._collect(batch)
                    self._run_frames(batch)
                    pending = following if taken else self._jobs.get()
                else:
                    self._run_job(pending)
                    pending = self._jobs.get()
        finally:
            connections.close_all()

    def _collect(self, batch: list[FrameJob]) -> tuple[bool, Job | None]:
        """Add the frames already waiting to ``batch``. Returns (True, job) when it had to take
        a job that is not a frame (a call, or the stop sentinel None) to run next."""
        deadline: float | None = None
        while len(batch) < self._batch_max:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                if self._expected is None or self._window <= 0 or self._expected() <= 0:
                    break
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self._window
                if now >= deadline:
                    break
                try:
                    # Short waits: whether more are expected is looked at again after each.
                    job = self._jobs.get(timeout=min(deadline - now, 0.0005))
                except queue.Empty:
                    continue
            if not isinstance(job, FrameJob):
                return True, job
            batch.append(job)
        return False, None

    def _run_job(self, job: Job) -> None:
        fn, loop, future = job
        try:
            result = fn()
        except BaseException as exc:
            # A lost connection leaves the thread's connection unusable: reopen next time.
            close_old_connections()
            loop.call_soon_threadsafe(_set_exception, future, exc)
        else:
            loop.call_soon_threadsafe(_set_result, future, result)

    def _run_frames(self, batch: list[FrameJob]) -> None:
        assert self._on_frames is not None
        try:
            results = self._on_frames([(job.payload, job.peer) for job in batch])
        except BaseException as exc:
            close_old_connections()
            for job in batch:
                job.loop.call_soon_threadsafe(_set_exception, job.future, exc)
        else:
            for job, result in zip(batch, results, strict=True):
                job.loop.call_soon_threadsafe(_set_result, job.future, result)

    def run(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((fn, loop, future))
        return future

    def receive(self, payload: bytes, peer: str) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put(FrameJob(payload, peer, loop, future))
        return future

    def stop(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=30)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)
