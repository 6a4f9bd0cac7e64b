"""The MLLP listener: an asyncio server whose connections hand each frame to a worker thread.

The event loop only frames bytes and writes ACKs; storing and applying a message (blocking
database work) runs in a pool of worker threads, each with its own database connection. Frames of
one connection are handled one after another, in order; connections run concurrently. The frames
waiting when a worker becomes free, from all connections, are applied as one batch in one
transaction (group commit): one commit's cost shared by many messages.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from django.conf import settings
from django.db import connection

from hl7_interface.mllp import Frame, FrameDecoder, OversizeFrame, frame
from hl7_interface.services import (
    Received,
    hl7_receive_batch,
    hl7_receive_oversize,
    hl7_recover_unapplied,
    sites_that_cannot_send,
)
from hl7_interface.workers import WorkerPool
from teleradiology.listeners import hl7_tls_context
from worklists import live

logger = logging.getLogger(__name__)
# A connection that sent a frame this recently is expected to send its next one shortly.
ACTIVE_SENDER_SECONDS = 0.05


class _Sender:
    """A connection as the batching sees it (written by the event loop, read by workers)."""

    __slots__ = ("last", "waiting")

    def __init__(self) -> None:
        self.last = 0.0
        self.waiting = False


class Listener:
    """The MLLP server. Besides framing, it holds the line against floods: at most
    ``max_connections_per_address`` connections from one address, at most ``max_frame_bytes``
    unfinished bytes per connection (a longer frame keeps its head only) and
    ``max_unfinished_total`` across connections (the connection passing it is closed), and
    connections that complete no frame for ``idle_timeout`` seconds are closed (bytes that do
    not finish a frame do not count as activity). With a TLS context, connections are TLS
    (mutual when the context requires client certificates)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        max_frame_bytes: int | None = None,
        idle_timeout: float | None = None,
        workers: int | None = None,
        reuse_port: bool = False,
        max_connections_per_address: int | None = None,
        max_unfinished_total: int | None = None,
        tls: ssl.SSLContext | Literal["settings"] | None = "settings",
    ) -> None:
        self.host = host
        self.port = port
        # Several listener processes on one port (SO_REUSEPORT): the kernel spreads connections.
        self.reuse_port = reuse_port
        self.max_frame_bytes = max_frame_bytes or settings.HL7_MAX_FRAME_BYTES
        self.idle_timeout = idle_timeout or settings.HL7_IDLE_TIMEOUT_SECONDS
        self.max_connections_per_address = (
            max_connections_per_address or settings.HL7_MAX_CONNECTIONS_PER_ADDRESS
        )
        self.max_unfinished_total = max_unfinished_total or settings.HL7_MAX_UNFINISHED_BYTES_TOTAL
        self.tls = hl7_tls_context() if tls == "settings" else tls
        self._connections_by_address: collections.Counter[str] = collections.Counter()
        # Bytes of unfinished frames held for all connections (the event loop's alone).
        self.unfinished_total = 0
        size = workers or settings.HL7_WORKERS
        if connection.vendor == "sqlite":
            # One writer at a time is all SQLite has; more threads would only contend for it.
            size = 1
        self._senders: dict[int, _Sender] = {}
        self.pool = WorkerPool(
            size,
            on_frames=self._receive_batch,
            batch_max=settings.HL7_BATCH_MAX,
            window=settings.HL7_BATCH_WINDOW_SECONDS,
            expected=self._expected_frames,
        )
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Recover messages a previous run stored but never applied, then listen; returns the
        bound port (useful when asked for port 0)."""
        recovered = await self.pool.run(hl7_recover_unapplied)
        if recovered:
            logger.info("recovered %d stored HL7 messages", len(recovered))
        for problem in await self.pool.run(sites_that_cannot_send):
            logger.warning("HL7: %s", problem)
        self._server = await asyncio.start_server(
            self._serve_connection,
            self.host,
            self.port,
            # What the stream buffers beyond the frame being decoded (reading pauses above it).
            limit=64 * 1024,
            reuse_port=self.reuse_port or None,
            ssl=self.tls,
            ssl_handshake_timeout=(
                settings.LISTENER_TLS_HANDSHAKE_TIMEOUT_SECONDS if self.tls is not None else None
            ),
        )
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("HL7 listener on %s:%s%s", self.host, self.port, " (TLS)" if self.tls else "")
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            # Connections still open are closed by their own idle timeout or the loop's end.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=1)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.pool.stop)
        # Off the loop: the study changes still waiting in this process's live batch.
        await loop.run_in_executor(None, live.flush)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        address = writer.get_extra_info("peername") or ("", 0)
        host = str(address[0])
        peer = f"{host}:{address[1]}"
        if self._connections_by_address[host] >= self.max_connections_per_address:
            logger.warning(
                "HL7 connection from %s refused: already %d open from that address",
                peer,
                self._connections_by_address[host],
            )
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        self._connections_by_address[host] += 1
        decoder = FrameDecoder(self.max_frame_bytes)
        held = 0  # this connection's share of unfinished_total
        sender = self._senders[id(writer)] = _Sender()
        loop = asyncio.get_running_loop()
        # Idle is measured from the last complete frame: a byte now and then keeps nothing open.
        deadline = loop.time() + self.idle_timeout
        try:
            while True:
                try:
                    data = await asyncio.wait_for(
                        reader.read(65536), max(0.0, deadline - loop.time())
                    )
                except TimeoutError:
                    logger.info(
                        "HL7 connection from %s completed no frame in %.0f s, closed "
                        "(%d bytes of an unfinished frame dropped)",
                        peer,
                        self.idle_timeout,
                        decoder.pending,
                    )
                    return
                if not data:
                    return
                items = decoder.feed(data)
                self.unfinished_total += decoder.buffered - held
                held = decoder.buffered
                for item in items:
                    deadline = loop.time() + self.idle_timeout
                    sender.last = time.monotonic()
                    sender.waiting = True
                    received = await self._handle(item, peer)
                    sender.waiting = False
                    writer.write(frame(received.ack))
                await writer.drain()
                if held and self.unfinished_total > self.max_unfinished_total:
                    # Complete frames were answered above; only the unfinished one is dropped.
                    logger.warning(
                        "HL7 connection from %s closed: unfinished frames of all connections "
                        "hold %d bytes, over the limit of %d",
                        peer,
                        self.unfinished_total,
                        self.max_unfinished_total,
                    )
                    return
        except (ConnectionError, OSError) as exc:
            logger.info("HL7 connection from %s lost: %s", peer, exc)
        except Exception:
            # Not stored means not acknowledged: the sender keeps the message and sends it again.
            logger.exception("HL7 connection from %s closed without an ACK", peer)
        finally:
            self.unfinished_total -= held
            self._connections_by_address[host] -= 1
            if self._connections_by_address[host] <= 0:
                del self._connections_by_address[host]
            self._senders.pop(id(writer), None)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _expected_frames(self) -> int:
        """Connections likely to send a frame in a moment (called from the worker threads):
        those that sent one lately and are not waiting for an ACK."""
        now = time.monotonic()
        return sum(
            1
            for sender in list(self._senders.values())
            if not sender.waiting and now - sender.last < ACTIVE_SENDER_SECONDS
        )

    def _receive_batch(self, frames: list[tuple[bytes, str]]) -> list[Received]:
        return hl7_receive_batch(frames)

    async def _handle(self, item: Frame | OversizeFrame, peer: str) -> Received:
        if isinstance(item, Frame):
            result: Received = await self.pool.receive(item.payload, peer)
            return result
        head, size = item.head, item.size
        oversize: Received = await self.pool.run(
            lambda: hl7_receive_oversize(head=head, size=size, peer=peer)
        )
        return oversize


async def _serve_until(
    stop: threading.Event, listener: Listener, on_ready: Callable[[int], None] | None
) -> None:
    port = await listener.start()
    if on_ready is not None:
        on_ready(port)
    try:
        while not stop.is_set():
            await asyncio.sleep(0.2)
    finally:
        await listener.close()


def serve(
    *,
    host: str,
    port: int,
    stop: threading.Event,
    workers: int | None = None,
    reuse_port: bool = False,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Run a listener in this thread until ``stop`` is set."""
    listener = Listener(host=host, port=port, workers=workers, reuse_port=reuse_port)
    asyncio.run(_serve_until(stop, listener, on_ready))


def run_embedded(stop: threading.Event) -> None:
    """The embedded default's listener (`manage.py serve`), on HL7_LISTENER_HOST:PORT."""
    serve(host=settings.HL7_LISTENER_HOST, port=settings.HL7_LISTENER_PORT, stop=stop)


@contextlib.contextmanager
def running_listener(
    *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> Iterator[Listener]:
    """A listener on its own event loop in a background thread, for tests and benchmarks."""
    stop = threading.Event()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        listener = Listener(host=host, port=port, **options)
        try:
            await listener.start()
        except BaseException as exc:
            holder["error"] = exc
            started.set()
            await listener.close()
            return
        holder["listener"] = listener
        started.set()
        try:
            while not stop.is_set():
                await asyncio.sleep(0.05)
        finally:
            await listener.close()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="hl7-listener", daemon=True)
    thread.start()
    started.wait(timeout=30)
    if "error" in holder:
        raise holder["error"]
    try:
        yield holder["listener"]
    finally:
        stop.set()
        thread.join(timeout=30)
