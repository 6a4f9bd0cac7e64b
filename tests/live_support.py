"""Reading what the live-worklist broadcasts sent to a channel layer."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync


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
