from __future__ import annotations

from celery import shared_task

from quality.services.overdue import reviews_flag_overdue
from quality.services.routing import reviews_route_waiting
from quality.services.sampling import review_sample, reviews_sample_missed

# Tasks take ids, call one service, and may run twice: each service re-checks state.


@shared_task(ignore_result=True)
def review_sample_task(*, version_id: int) -> None:
    review_sample(version_id=version_id)


@shared_task(ignore_result=True)
def reviews_route_waiting_task() -> None:
    # The sweep: finals whose after-commit sampling was lost, then reviews waiting for a
    # reviewer (a credential begun, a competence added since), then reviews past their deadline.
    reviews_sample_missed()
    reviews_route_waiting()
    reviews_flag_overdue()
