from __future__ import annotations

from typing import Any

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

    async def send_to_both() -> None:
        # One trip into the event loop for both groups: each async_to_sync costs a thread hop.
        for group in (site_group(site_id), ALL_SITES_GROUP):
            await layer.group_send(group, message)

    async_to_sync(send_to_both)()


@shared_task(ignore_result=True)
def broadcast_study_events(*, events: list[dict[str, Any]]) -> None:
    """A batch of study events (listener, read next) sent to the sockets in one event-loop pass.

    Each message is the one ``worklists.tasks.broadcast_study_event`` sends for one event.
    """
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for event in events:
            message = {
                "type": "study.event",
                "event": event["event"],
                "study_id": event["study_id"],
                "status": event["status"],
            }
            for group in (site_group(event["site_id"]), ALL_SITES_GROUP):
                await layer.group_send(group, message)

    async_to_sync(send_all)()


# Routing. Tasks take ids, call one service, and may run twice: each service re-checks state.


@shared_task(ignore_result=True)
def route_study_task(
    *, study_id: int, trigger: str, exclude_radiologist_id: int | None = None
) -> None:
    from worklists.services.routing import study_route

    study_route(study_id=study_id, trigger=trigger, exclude_radiologist_id=exclude_radiologist_id)


@shared_task(ignore_result=True)
def reader_fill_queue_task(*, radiologist_id: int, trigger: str) -> None:
    from worklists.services.routing import reader_fill_queue

    reader_fill_queue(radiologist_id=radiologist_id, trigger=trigger)


@shared_task(ignore_result=True)
def routing_escalate() -> None:
    from worklists.services.escalation import studies_escalate

    studies_escalate()


@shared_task(ignore_result=True)
def claims_expire() -> None:
    from worklists.services.claims import claims_expire as expire

    expire()


@shared_task(ignore_result=True)
def pushes_return_unopened() -> None:
    from worklists.services.unopened import pushes_return_unopened as send_back

    send_back()


@shared_task(ignore_result=True)
def shifts_start_due() -> None:
    from worklists.services.shifts import shifts_start

    shifts_start()
