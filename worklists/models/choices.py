from django.db import models


class Modality(models.TextChoices):
    CT = "CT", "CT"
    MR = "MR", "MR"
    CR = "CR", "Computed radiography"
    DX = "DX", "Digital radiography"
    US = "US", "Ultrasound"
    MG = "MG", "Mammography"
    NM = "NM", "Nuclear medicine"
    PT = "PT", "PET"
    XA = "XA", "Angiography"
    RF = "RF", "Fluoroscopy"
    OT = "OT", "Other"


class Priority(models.TextChoices):
    STAT = "STAT", "STAT"
    URGENT = "URGENT", "Urgent"
    CANCER_PATHWAY = "CANCER_PATHWAY", "Cancer pathway"
    ROUTINE = "ROUTINE", "Routine"


# Lower is more urgent; used to order lists when deadlines tie.
PRIORITY_RANK = {
    Priority.STAT: 0,
    Priority.URGENT: 1,
    Priority.CANCER_PATHWAY: 2,
    Priority.ROUTINE: 3,
}


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    OTHER = "O", "Other"
    UNKNOWN = "U", "Unknown"
