from __future__ import annotations

from celery import shared_task

from worklists.services.claims import claims_expire as expire
from worklists.services.escalation import studies_escalate
from worklists.services.routing import reader_fill_queue, study_route
from worklists.services.shifts import shifts_start
from worklists.services.surges import surges_expire as record_expired_surges
from worklists.services.unopened import pushes_return_unopened as send_back

# Routing. Tasks take ids, call one service, and may run twice: each service re-checks state.
# The services ask for these tasks through worklists.services.pushes (installed by
# WorklistsConfig.ready), never by importing this module: no import cycle.


@shared_task(ignore_result=True)
def route_study_task(
    *, study_id: int, trigger: str, exclude_radiologist_id: int | None = None
) -> None:
    study_route(study_id=study_id, trigger=trigger, exclude_radiologist_id=exclude_radiologist_id)


@shared_task(ignore_result=True)
def reader_fill_queue_task(*, radiologist_id: int, trigger: str) -> None:
    reader_fill_queue(radiologist_id=radiologist_id, trigger=trigger)


@shared_task(ignore_result=True)
def routing_escalate() -> None:
    studies_escalate()


@shared_task(ignore_result=True)
def claims_expire() -> None:
    expire()


@shared_task(ignore_result=True)
def pushes_return_unopened() -> None:
    send_back()


@shared_task(ignore_result=True)
def shifts_start_due() -> None:
    shifts_start()


@shared_task(ignore_result=True)
def surges_expire() -> None:
    record_expired_surges()
