"""A blocking MLLP client: send a frame, wait for the acknowledgement frame."""

from __future__ import annotations

import dataclasses
import socket

from hl7_interface.codec import Hl7Error, read_header, unescape
from hl7_interface.mllp import Frame, FrameDecoder, frame


class MllpError(Exception):
    """The other side could not be reached, or did not answer in time or in MLLP."""


@dataclasses.dataclass(frozen=True, slots=True)
class Ack:
    code: str  # MSA-1: AA, AE, AR (or CA, CE, CR in enhanced mode)
    control_id: str  # MSA-2: the message acknowledged
    text: str  # MSA-3 and ERR text, for the record
    raw: bytes

    @property
    def accepted(self) -> bool:
        return self.code in {"AA", "CA"}


def parse_ack(raw: bytes) -> Ack:
    try:
        header = read_header(raw)
    except Hl7Error as exc:
        raise MllpError(f"the answer is not an HL7 message: {exc}") from None
    text = raw.decode("utf-8", errors="replace")
    fs = header.seps.field
    code = control = ""
    details = []
    for segment in text.replace("\n", "\r").split("\r"):
        fields = segment.split(fs)
        if fields[0] == "MSA":
            code = fields[1] if len(fields) > 1 else ""
            # MSA-2 is the acknowledged MSH-10, escaped as the writer escapes it
            control = unescape(fields[2], header.seps) if len(fields) > 2 else ""
            if len(fields) > 3 and fields[3]:
                details.append(fields[3])
        elif fields[0] == "ERR":
            details.extend(f for f in fields[1:] if f)
    if not code:
        raise MllpError("the answer has no MSA segment")
    return Ack(code=code, control_id=control, text=" | ".join(details), raw=raw)


class MllpClient:
    """One connection to an MLLP server; send() waits for the answer to each message."""

    def __init__(
        self, host: str, port: int, *, connect_timeout: float = 10.0, timeout: float = 30.0
    ) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self.max_answer = 1024 * 1024
        try:
            self._socket = socket.create_connection(self.address, timeout=connect_timeout)
        except OSError as exc:
            raise MllpError(f"cannot connect to {host}:{port}: {exc}") from exc
        self._socket.settimeout(timeout)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._decoder = FrameDecoder(self.max_answer)
        self._pending: list[bytes] = []

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._socket.close()

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (tests split and pack frames with this)."""
        try:
            self._socket.sendall(data)
        except OSError as exc:
            host, port = self.address
            raise MllpError(f"sending to {host}:{port} failed: {exc}") from exc

    def receive(self) -> bytes:
        """The next frame the other side sends."""
        while not self._pending:
            try:
                data = self._socket.recv(65536)
            except TimeoutError:
                raise MllpError(f"no answer within {self.timeout:g} s") from None
            except OSError as exc:
                raise MllpError(f"receiving failed: {exc}") from exc
            if not data:
                raise MllpError("the connection was closed before an answer came")
            for item in self._decoder.feed(data):
                if isinstance(item, Frame):
                    self._pending.append(item.payload)
                else:
                    raise MllpError(f"the answer is over {self.max_answer} bytes")
        return self._pending.pop(0)

    def send(self, payload: bytes) -> bytes:
        self.send_raw(frame(payload))
        return self.receive()

    def send_message(self, payload: bytes) -> Ack:
        return parse_ack(self.send(payload))
