"""Giving the seeded studies a plausible past."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from worklists.models import Assignment, Study, StudyEvent, StudyStatus


@dataclass(slots=True)
class Timeline:
    """The times the study's events should carry, once the services have run."""

    ordered_at: dt.datetime
    at_by_status: dict[str, dt.datetime] = field(default_factory=dict)


def backdate(timelines: dict[int, Timeline]) -> None:
    """Move each study's timestamps back to its planned past.

    The services stamp everything with the moment they run, so without this every study
    would have become ready in the same second: no deadline would be near or overdue and no
    turnaround could be measured. Only timestamps move; statuses, classifications and
    events stay exactly as the services wrote them.
    """
    studies = list(Study.objects.filter(id__in=timelines))
    events = list(StudyEvent.objects.filter(study_id__in=timelines).order_by("id"))
    assignments = list(Assignment.objects.filter(study_id__in=timelines))
    deadlines: dict[int, str] = {}
    for study in studies:
        ready_at = timelines[study.id].at_by_status.get(StudyStatus.READY)
        if ready_at is not None and study.ready_at is not None and study.deadline is not None:
            # The contract's turnaround counts from ready, so the deadline moves with it.
            study.deadline -= study.ready_at - ready_at
            study.ready_at = ready_at
            deadlines[study.id] = study.deadline.isoformat()
    last_at: dict[int, dt.datetime] = {}
    for event in events:
        timeline = timelines[event.study_id]
        if event.to_status == StudyStatus.ORDERED:
            # The order and what intake recorded with it (a low-value flag) happened together.
            event.at = timeline.ordered_at
        else:
            event.at = timeline.at_by_status.get(event.to_status, event.at)
        if "deadline" in event.data and event.study_id in deadlines:
            event.data = {**event.data, "deadline": deadlines[event.study_id]}
        last_at[event.study_id] = event.at
    for study in studies:
        study.status_changed_at = last_at[study.id]
    for assignment in assignments:
        assigned_at = timelines[assignment.study_id].at_by_status.get(StudyStatus.ASSIGNED)
        if assigned_at is not None:
            assignment.assigned_at = assigned_at
        if assignment.ended_at is not None:
            assignment.ended_at = last_at[assignment.study_id]
    Study.objects.bulk_update(
        studies, ["ready_at", "deadline", "status_changed_at"], batch_size=500
    )
    StudyEvent.objects.bulk_update(events, ["at", "data"], batch_size=500)
    Assignment.objects.bulk_update(assignments, ["assigned_at", "ended_at"], batch_size=500)
