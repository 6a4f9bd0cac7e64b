from django.apps import AppConfig


class DicomConfig(AppConfig):
    """DICOM C-STORE receiver and study assembly."""

    name = "dicom"
    verbose_name = "DICOM"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dicom import checks  # noqa: F401 (registers the system checks)
