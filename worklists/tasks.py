from __future__ import annotations

from celery import shared_task

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
