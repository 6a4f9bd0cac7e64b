from __future__ import annotations

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer

from worklists.live import ALL_SITES_GROUP, site_group


@shared_task(ignore_result=True)
def broadcast_study_event(*, study_id: int, site_id: int, event: str, status: str = "") -> None:
    """Send one study event to the sockets of its site and of coordinators."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "study.event", "event": event, "study_id": study_id, "status": status}
    for group in (site_group(site_id), ALL_SITES_GROUP):
        async_to_sync(layer.group_send)(group, message)
