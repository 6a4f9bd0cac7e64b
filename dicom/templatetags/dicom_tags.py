from __future__ import annotations

from typing import Any

from django import template

from dicom.selectors import study_images_view
from worklists.models import Study

register = template.Library()


@register.inclusion_tag("dicom/study_images.html")
def study_images(study: Study) -> dict[str, Any]:
    """The images of a study on its page (the page has scoped and audited the study)."""
    view = study_images_view(study_id=study.id)
    return {
        "study": study,
        "images": view.images,
        "series": view.series,
        "late_instances": view.late_instances,
    }
