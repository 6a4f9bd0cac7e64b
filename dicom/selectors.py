"""Reads of the image state of one study. The caller has already scoped and audited the study."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count

from dicom.models import DicomInstance, DicomSeries, StudyImages

LATE_SHOWN = 20


@dataclass(frozen=True, slots=True)
class StudyImagesView:
    images: StudyImages | None
    series: Sequence[DicomSeries] = ()
    late_instances: Sequence[DicomInstance] = ()


def study_images_view(*, study_id: int) -> StudyImagesView:
    """Counts, series with their instance counts, and the latest late instances."""
    images = StudyImages.objects.filter(study_id=study_id).first()
    if images is None:
        return StudyImagesView(images=None)
    series = list(
        DicomSeries.objects.filter(images=images)
        .annotate(instance_count=Count("instances"))
        .order_by("series_number", "first_instance_at", "id")
    )
    late: list[DicomInstance] = []
    if images.late_instance_count:
        late = list(
            DicomInstance.objects.filter(images=images, is_late=True)
            .select_related("series")
            .order_by("-received_at", "-id")[:LATE_SHOWN]
        )
    return StudyImagesView(images=images, series=series, late_instances=late)
