"""The images of a study, as a panel of the core's study page (registered in DicomConfig.ready)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from dicom.selectors import study_images_view
from worklists.models import Study


def study_images_panel(*, request: HttpRequest | None, study: Study) -> str:
    """The study page has scoped and audited the study; its images add no patient data."""
    view = study_images_view(study_id=study.id)
    return render_to_string(
        "dicom/study_images.html",
        {
            "study": study,
            "images": view.images,
            "series": view.series,
            "late_instances": view.late_instances,
        },
        request=request,
    )
