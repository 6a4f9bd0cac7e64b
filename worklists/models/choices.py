from django.db import models
from django.utils.translation import gettext_lazy as _


class Modality(models.TextChoices):
    CT = "CT", _("CT")
    MR = "MR", _("MR")
    CR = "CR", _("Computed radiography")
    DX = "DX", _("Digital radiography")
    US = "US", _("Ultrasound")
    MG = "MG", _("Mammography")
    NM = "NM", _("Nuclear medicine")
    PT = "PT", _("PET")
    XA = "XA", _("Angiography")
    RF = "RF", _("Fluoroscopy")
    OT = "OT", _("Other")


class Priority(models.TextChoices):
    STAT = "STAT", _("STAT")
    URGENT = "URGENT", _("Urgent")
    CANCER_PATHWAY = "CANCER_PATHWAY", _("Cancer pathway")
    ROUTINE = "ROUTINE", _("Routine")


# Lower is more urgent; used to order lists when deadlines tie.
PRIORITY_RANK = {
    Priority.STAT: 0,
    Priority.URGENT: 1,
    Priority.CANCER_PATHWAY: 2,
    Priority.ROUTINE: 3,
}


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    OTHER = "O", _("Other")
    UNKNOWN = "U", _("Unknown")
