from __future__ import annotations

from celery import shared_task

from dicom.services.completion import study_images_complete_quiet


@shared_task(ignore_result=True)
def complete_quiet_studies() -> int:
    """Periodic: complete the studies whose images have been quiet for the quiet period."""
    return len(study_images_complete_quiet())
