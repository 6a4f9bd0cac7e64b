from django.apps import AppConfig


class DicomConfig(AppConfig):
    """DICOM C-STORE receiver and study assembly."""

    name = "dicom"
    verbose_name = "DICOM"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dicom import checks  # noqa: F401 (registers the system checks)
        from dicom.panels import study_images_panel
        from dicom.services import completion
        from worklists.hooks import (
            OrderImages,
            PanelSlot,
            StudyPanel,
            register_order_images,
            register_study_panel,
        )

        # The core names no adapter: this app plugs its images into order ingest and the
        # study page.
        register_order_images(
            OrderImages(
                patient_mismatch_locked=completion.study_images_order_patient_mismatch_locked,
                hold_for_mismatch_locked=completion.study_hold_for_order_mismatch_locked,
                order_arrived_locked=completion.study_images_order_arrived_locked,
            )
        )
        register_study_panel(
            StudyPanel(name="images", slot=PanelSlot.BEFORE_HISTORY, render=study_images_panel)
        )
