from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from worklists.access import visible_site_ids
from worklists.live import ALL_SITES_GROUP, site_group


class WorklistConsumer(AsyncJsonWebsocketConsumer):
    """Pushes study events for the sites the user may see; the client refetches by id."""

    groups_joined: list[str]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        site_ids = await database_sync_to_async(visible_site_ids)(user)
        self.groups_joined = (
            [ALL_SITES_GROUP] if site_ids is None else [site_group(i) for i in sorted(site_ids)]
        )
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def study_event(self, message: dict[str, Any]) -> None:
        await self.send_json(
            {"type": message["event"], "study_id": message["study_id"], "status": message["status"]}
        )
