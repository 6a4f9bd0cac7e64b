"""The test RIS's receiving side: an MLLP server on a real TCP socket that takes results
(ORU^R01, order cancellations), acknowledges each per a policy, and keeps what it got.

Used by the demo (``demo_ris.embedded``), ``manage.py ris_simulator``, the tests and the
benchmarks; a production RIS is the site's own."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
from collections.abc import Callable, Iterator

from demo_ris.orders import encode_text, msh
from hl7_interface.codec import Hl7Error, parse, read_header
from hl7_interface.mllp import Frame, FrameDecoder, frame
from hl7_interface.writer import escape, segment


@dataclasses.dataclass(slots=True)
class ReceivedResult:
    raw: bytes
    control_id: str
    message_type: str


AnswerPolicy = Callable[[bytes], str | None]  # message -> ACK code, or None: do not answer


def always_accept(_message: bytes) -> str | None:
    return "AA"


class ResultReceiver:
    """A blocking MLLP server thread that acknowledges every message per ``policy``."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, policy: AnswerPolicy = always_accept
    ) -> None:
        self.policy = policy
        self.received: list[ReceivedResult] = []
        self.arrived = threading.Condition()
        self._server = socket.create_server((host, port))
        self._server.settimeout(0.2)
        self.host, self.port = self._server.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(target=self._accept, daemon=True)
        self._accept_thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        decoder = FrameDecoder(16 * 1024 * 1024)
        conn.settimeout(0.2)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                for item in decoder.feed(data):
                    if not isinstance(item, Frame):
                        continue
                    code = self.policy(item.payload)
                    if code is None:
                        continue
                    self._remember(item.payload)
                    with contextlib.suppress(OSError):
                        conn.sendall(frame(self.ack_for(item.payload, code)))

    def _remember(self, payload: bytes) -> None:
        try:
            header = read_header(payload)
            control, kind = header.control_id, header.message_type
        except Hl7Error:
            control, kind = "", ""
        with self.arrived:
            self.received.append(ReceivedResult(raw=payload, control_id=control, message_type=kind))
            self.arrived.notify_all()

    @staticmethod
    def ack_for(payload: bytes, code: str) -> bytes:
        header = read_header(payload)
        lines = [
            msh(
                facility="RIS",
                message_type=f"ACK^{header.trigger_event}^ACK",
                version=header.version or "2.5",
                charset=header.charset,
            ),
            segment("MSA", code, escape(header.control_id)),
        ]
        if code != "AA":
            lines.append(segment("ERR", "", "", "207^Application internal error^HL70357", "E"))
        return encode_text(lines, header.charset)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedResult]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._accept_thread.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> ResultReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def report_text(result: bytes) -> Iterator[str]:
    """The OBX text lines of an ORU, decoded (for printing what arrived)."""
    message = parse(result)
    for obx in message.all("OBX"):
        yield obx.text(5)
