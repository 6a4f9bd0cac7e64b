"""What this app does when reports tells it something (reports.hooks), registered in
QualityConfig.ready. Thin: hand the ids to a task."""

from __future__ import annotations

from quality.tasks import review_sample_task


def final_signed(*, study_id: int, version_id: int) -> None:
    # After commit (reports calls it so): the worker, or eagerly this process, samples.
    review_sample_task.delay(version_id=version_id)
