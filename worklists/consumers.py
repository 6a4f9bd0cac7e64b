"""The live socket: forwards study changes the user may see, and answers a resync request.

How the changes get here: worklists/live.py (and docs/live-updates.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from worklists import live, selectors
from worklists.access import visible_site_ids


class WorklistConsumer(AsyncJsonWebsocketConsumer):
    """Joins the groups of the sites the user may read; the client refetches rows by id."""

    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        live.attach_server_loop(asyncio.get_running_loop())
        site_ids = await database_sync_to_async(visible_site_ids)(user)
        self.groups_joined = [
            *(
                [live.ALL_SITES_GROUP]
                if site_ids is None
                else [live.site_group(i) for i in sorted(site_ids)]
            ),
            live.EVERYONE_GROUP,
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """``{"type": "resync", "since": <ms>}``: the studies changed since the client's last
        message, or ``"full": true`` when the gap is too long to list."""
        if not isinstance(content, dict) or content.get("type") != "resync":
            await self.send_json({"type": "error", "detail": "expected {type: resync, since}"})
            return
        since = content.get("since")
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            await self.send_json({"type": "error", "detail": "since: milliseconds since epoch"})
            return
        changed = await database_sync_to_async(selectors.studies_changed_since)(
            user=self.scope["user"], since_ms=since
        )
        await self.send_json(
            {
                "type": "resync",
                "full": changed.full,
                "study_ids": changed.study_ids,
                "at": changed.at_ms,
            }
        )

    async def live_notice(self, message: dict[str, Any]) -> None:
        """A change that is no one study's (a surge): its type, ids and time."""
        await self.send_json({**message["data"], "type": message["event"], "at": message["at"]})

    async def study_event(self, message: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": message["event"],
                "study_id": message["study_id"],
                "status": message["status"],
                "at": message["at"],
            }
        )
