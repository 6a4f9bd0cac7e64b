"""MLLP framing: the start and end bytes around each HL7 message on a TCP stream. Pure Python."""

from __future__ import annotations

import dataclasses

SB = b"\x0b"
EB = b"\x1c"
CR = b"\x0d"


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    payload: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class OversizeFrame:
    """A frame longer than the limit: its first ``head`` bytes, kept so it can be answered."""

    head: bytes
    size: int


def frame(payload: bytes) -> bytes:
    return SB + payload + EB + CR


class FrameDecoder:
    """Turns a byte stream into MLLP frames, however the reads split or pack them.

    Bytes between frames are ignored (some senders write a newline after each frame). A frame
    over ``max_size`` is not buffered: its head is kept and the rest skipped up to its end.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self._in_frame = False
        self._oversize_head: bytes | None = None
        self._oversize_count = 0

    @property
    def pending(self) -> int:
        """Bytes of an unfinished frame (an idle connection with pending bytes was cut off)."""
        return len(self._buffer) + self._oversize_count

    @property
    def buffered(self) -> int:
        """Bytes of the unfinished frame held in memory (an oversize frame holds its head only)."""
        return len(self._buffer) + len(self._oversize_head or b"")

    def feed(self, data: bytes) -> list[Frame | OversizeFrame]:
        out: list[Frame | OversizeFrame] = []
        view = memoryview(data)
        pos = 0
        end = len(data)
        while pos < end:
            if not self._in_frame:
                start = data.find(SB, pos)
                if start < 0:
                    break
                self._in_frame = True
                pos = start + 1
                continue
            stop = data.find(EB, pos)
            chunk_end = end if stop < 0 else stop
            self._take(view[pos:chunk_end])
            if stop < 0:
                break
            # The frame ends at EB; the CR after it is optional in practice, skipped if there.
            pos = stop + 1
            if pos < end and data[pos] == 0x0D:
                pos += 1
            out.append(self._finish())
        return out

    def _take(self, chunk: memoryview) -> None:
        if self._oversize_head is not None:
            self._oversize_count += len(chunk)
            return
        if len(self._buffer) + len(chunk) > self.max_size:
            room = self.max_size - len(self._buffer)
            self._oversize_head = bytes(self._buffer) + bytes(chunk[:room])
            self._oversize_count = len(self._oversize_head) + len(chunk) - room
            self._buffer.clear()
            return
        self._buffer += chunk

    def _finish(self) -> Frame | OversizeFrame:
        self._in_frame = False
        if self._oversize_head is not None:
            result: Frame | OversizeFrame = OversizeFrame(
                head=self._oversize_head, size=self._oversize_count
            )
            self._oversize_head = None
            self._oversize_count = 0
            return result
        payload = bytes(self._buffer)
        self._buffer.clear()
        return Frame(payload=payload)
