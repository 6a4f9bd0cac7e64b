"""What the DICOM receiver knows: per-site settings, per-study image state, series, instances,
refused associations and refused instances.

The study itself (status, patient, order fields) lives in ``worklists``; everything the images
add lives here, one-to-one with the study, so the lifecycle tables stay the lifecycle's.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from teleradiology.listeners import ADDRESS_LIST_HELP, require_addresses, validate_address_list


class DicomSiteSettings(models.Model):
    """How one site's PACS talks to us. The calling AE title is ``Site.dicom_ae_title``."""

    site = models.OneToOneField(
        "worklists.Site", on_delete=models.CASCADE, related_name="dicom_settings"
    )
    images_only = models.BooleanField(
        default=False,
        help_text="The site sends images without orders: a study is opened for reading as soon "
        "as its images are complete, without waiting for an order.",
    )
    allowed_source_addresses = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_address_list],
        help_text=ADDRESS_LIST_HELP,
    )

    class Meta:
        verbose_name = "DICOM site settings"
        verbose_name_plural = "DICOM site settings"

    def __str__(self) -> str:
        return f"DICOM settings for site {self.site_id}"

    def clean(self) -> None:
        super().clean()
        require_addresses(self.allowed_source_addresses, field="allowed_source_addresses")


class StudyImages(models.Model):
    """The images received for one study: counts, study-level attributes, arrival times."""

    study = models.OneToOneField(
        "worklists.Study", on_delete=models.CASCADE, related_name="dicom_images"
    )
    study_instance_uid = models.CharField(max_length=64)
    series_count = models.PositiveIntegerField(default=0)
    instance_count = models.PositiveIntegerField(default=0)
    modalities = models.JSONField(default=list, blank=True, help_text="Modalities in the study.")
    body_part = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=300, blank=True, help_text="StudyDescription.")
    institution = models.CharField(max_length=200, blank=True, help_text="InstitutionName.")
    procedure_codes = models.JSONField(
        default=list, blank=True, help_text="ProcedureCodeSequence: code, scheme, meaning."
    )
    patient_id = models.CharField(max_length=64, blank=True, help_text="PatientID as sent.")
    issuer_of_patient_id = models.CharField(max_length=64, blank=True)
    first_instance_at = models.DateTimeField()
    last_instance_at = models.DateTimeField()
    complete = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    images_without_order = models.BooleanField(
        default=False, help_text="The images came first: the study was created from them."
    )
    order_arrived_at = models.DateTimeField(
        null=True, blank=True, help_text="When the order of a study created from images came."
    )
    patient_mismatch = models.BooleanField(
        default=False, help_text="The images name another patient than the study's."
    )
    late_instance_count = models.PositiveIntegerField(default=0)
    last_late_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "study images"
        verbose_name_plural = "study images"
        indexes = [
            # The quiet-period sweep: incomplete studies by last arrival.
            models.Index(
                fields=["last_instance_at"],
                condition=Q(complete=False),
                name="dicom_images_incomplete",
            ),
        ]

    def __str__(self) -> str:
        return f"images of study {self.study_id}: {self.instance_count} instances"


class DicomSeries(models.Model):
    images = models.ForeignKey(StudyImages, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=64)
    modality = models.CharField(max_length=16, blank=True)
    series_number = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=300, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    first_instance_at = models.DateTimeField()

    class Meta:
        verbose_name = "DICOM series"
        verbose_name_plural = "DICOM series"
        constraints = [
            models.UniqueConstraint(
                fields=["images", "series_instance_uid"], name="dicom_series_unique_per_study"
            )
        ]

    def __str__(self) -> str:
        return f"{self.modality} series {self.series_instance_uid}"


class DicomInstance(models.Model):
    images = models.ForeignKey(StudyImages, on_delete=models.CASCADE, related_name="instances")
    series = models.ForeignKey(DicomSeries, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(max_length=64)
    sop_class_uid = models.CharField(max_length=64)
    transfer_syntax_uid = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField()
    calling_ae_title = models.CharField(max_length=16, blank=True)
    is_late = models.BooleanField(
        default=False, help_text="Arrived after the study was opened for reading."
    )
    storage_path = models.CharField(
        max_length=300, blank=True, help_text="Relative to DICOM_STORAGE_DIR; empty if not kept."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["images", "sop_instance_uid"], name="dicom_instance_unique_per_study"
            )
        ]
        indexes = [
            models.Index(
                fields=["images", "received_at"],
                condition=Q(is_late=True),
                name="dicom_instance_late",
            )
        ]

    def __str__(self) -> str:
        return self.sop_instance_uid


class RejectedAssociation(models.Model):
    """A peer we refused to talk to, and why: for the admin to see who is knocking."""

    at = models.DateTimeField()
    calling_ae_title = models.CharField(max_length=16, blank=True)
    called_ae_title = models.CharField(max_length=16, blank=True)
    peer_address = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="dicom_rejected_at")]

    def __str__(self) -> str:
        return f"{self.calling_ae_title or '?'} from {self.peer_address}: {self.reason}"


class FailedInstance(models.Model):
    """An instance we answered with a failure status, kept as received for inspection."""

    received_at = models.DateTimeField()
    site = models.ForeignKey(
        "worklists.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    calling_ae_title = models.CharField(max_length=16, blank=True)
    peer_address = models.CharField(max_length=64, blank=True)
    sop_class_uid = models.CharField(max_length=64, blank=True)
    sop_instance_uid = models.CharField(max_length=64, blank=True)
    status = models.PositiveIntegerField(help_text="The DIMSE status we answered.")
    error = models.TextField()
    raw = models.BinaryField(
        help_text="The dataset as received, with its file meta: whole when smaller than "
        "DICOM_FAILED_INSTANCE_KEEP_WHOLE_BYTES, else its first DICOM_FAILED_INSTANCE_HEAD_BYTES."
    )
    raw_size = models.PositiveBigIntegerField(
        default=0, help_text="Bytes of the dataset as received (raw may hold its head only)."
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["received_at"], name="dicom_failed_received")]

    def __str__(self) -> str:
        return f"0x{self.status:04X} {self.sop_instance_uid or '?'}: {self.error[:60]}"

    @property
    def raw_is_whole(self) -> bool:
        return len(self.raw or b"") >= self.raw_size
