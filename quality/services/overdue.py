"""Reviews past their deadline: the coordinators are told, once per review (a CoordinatorAlert on
the study, on the console), and the alert closes itself when the review is scored or withdrawn.

A review is not urgent as a study is, so nothing escalates it to other readers; a coordinator
reminds the reviewer or reassigns it (quality.services.reassignment). Raised by the periodic
sweep (quality.tasks), not at the deadline's second: minutes late is soon enough here.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from django.db import transaction
from django.utils import timezone

from quality.models import OPEN_REVIEW_STATUSES, ReviewStatus, ReviewTask
from worklists.actors import Actor
from worklists.models import CoordinatorAlert
from worklists.services.alerts import AlertAlreadyResolved, alert_raise, alert_resolve

OVERDUE_ALERT = "quality.review_overdue"


def reviews_flag_overdue(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Raise an alert for each open review past its deadline whose coordinators were not told
    yet (a coordinator who resolved it by hand is not asked again); how many were raised."""
    now = now or timezone.now()
    overdue = ReviewTask.objects.filter(
        status__in=OPEN_REVIEW_STATUSES, deadline__lt=now, overdue_alerted_at__isnull=True
    ).order_by("deadline", "id")
    raised = 0
    for task_id in list(overdue.values_list("id", flat=True)[:limit]):
        raised += int(_flag(task_id, now=now))
    return raised


def _flag(task_id: int, *, now: dt.datetime) -> bool:
    with transaction.atomic():
        # Compare-and-set: a second sweep running at once tells the coordinators only once.
        if not ReviewTask.objects.filter(
            id=task_id, status__in=OPEN_REVIEW_STATUSES, overdue_alerted_at__isnull=True
        ).update(overdue_alerted_at=now):
            return False
        task = ReviewTask.objects.select_related("study").get(pk=task_id)
        alert_raise(
            kind=OVERDUE_ALERT,
            # Stored text, as every alert's: the console shows it in the coordinator's language
            # from the data (worklists.console.selectors.alert_message_shown).
            message=(
                f"The peer review of {task.study.accession_number} is past its deadline "
                f"({task.deadline:%Y-%m-%d %H:%M} UTC): remind the reviewer or reassign it."
            ),
            study_id=task.study_id,
            site_id=task.study.site_id,
            data={
                "review_id": task.id,
                "deadline": task.deadline.isoformat(),
                "reviewer_id": task.reviewer_id,
                "waiting_for_reviewer": task.status == ReviewStatus.UNASSIGNED,
            },
            at=now,
        )
    return True


def overdue_alert_close(task: ReviewTask, *, actor: Actor) -> None:
    """The review is scored or withdrawn: its overdue alert, if open, is done with."""
    open_alerts = CoordinatorAlert.objects.filter(
        kind=OVERDUE_ALERT,
        study_id=task.study_id,
        data__review_id=task.id,
        resolved_at__isnull=True,
    ).values_list("id", flat=True)
    for alert_id in list(open_alerts):
        with contextlib.suppress(AlertAlreadyResolved):  # a coordinator closed it meanwhile
            alert_resolve(alert_id=alert_id, actor=actor, resolution=f"review {task.status}")
