from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from worklists import nin
from worklists.models.choices import Sex


class Demographics(models.Model):
    """Name, birth date and sex, and how they are shown."""

    family_name = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)

    class Meta:
        abstract = True

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}" if self.given_name else self.family_name

    def age_on(self, day: dt.date) -> int | None:
        if self.birth_date is None:
            return None
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - int(before_birthday)

    def demographics(self) -> tuple[str, str, dt.date | None, str]:
        return (self.family_name, self.given_name, self.birth_date, self.sex)


class Patient(Demographics):
    """One person. The demographics on this row are the record of the patient's home site (the
    site that first sent the patient); every other site's record, and the national register's,
    is a ``PatientRecord``. A site changes only its own record. Which record a page shows is
    ``shown_for_site`` (the rule in docs/privacy.md).
    """

    home_site = models.ForeignKey(
        "worklists.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The site whose record of the patient this row holds (empty: none yet).",
    )
    # False while every record (sites', register's) says what this row says, the usual case:
    # every study of the patient shows this row, at no cost. True when they differ: each study
    # then shows the register's record, else its ordering site's.
    records_differ = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["family_name", "given_name"])]

    def __str__(self) -> str:
        return self.display_name

    def shown_for_site(self, site_id: int) -> Demographics:
        """The demographics a study of this patient ordered by ``site_id`` shows: the national
        register's record if the platform has one, else that site's own record, else this row
        (the home site's). One query, and only when the records differ."""
        if not self.records_differ:
            return self
        records = {
            (r.source, r.site_id): r
            for r in PatientRecord.objects.filter(patient_id=self.pk).filter(
                models.Q(source=PatientRecord.Source.REGISTER) | models.Q(site_id=site_id)
            )
        }
        register = records.get((PatientRecord.Source.REGISTER, None))
        if register is not None:
            return register
        return records.get((PatientRecord.Source.SITE, site_id), self)


class PatientRecord(Demographics):
    """One source's record of a patient's demographics: a site's (what its RIS, orders and ADT
    messages say; only that site changes it) or the national register's (site empty)."""

    class Source(models.TextChoices):
        SITE = "site", _("Site")
        REGISTER = "register", _("National register")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="records")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.SITE)
    site = models.ForeignKey(
        "worklists.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "site"],
                condition=models.Q(source="site"),
                name="one_record_per_patient_and_site",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(source="register"),
                name="one_register_record_per_patient",
            ),
            models.CheckConstraint(
                condition=models.Q(source="site", site__isnull=False)
                | models.Q(source="register", site__isnull=True),
                name="record_site_matches_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.site_id or 'register'})"


class PatientIdentifier(models.Model):
    """An identifier for a patient issued by one assigning authority.

    National numbers (FNR, DNR) are unique across all sites, which is what lets a reader see the
    patient's priors from every hospital; a site's local medical record number uses the site
    code as its authority.
    """

    class Kind(models.TextChoices):
        FODSELSNUMMER = "FNR", _("Fødselsnummer")
        D_NUMMER = "DNR", _("D-nummer")
        H_NUMMER = "HNR", _("H-nummer")
        LOCAL = "MR", _("Local record number")

    # Numbers in the national format, validated with their check digits.
    NATIONAL_KINDS = frozenset({Kind.FODSELSNUMMER, Kind.D_NUMMER, Kind.H_NUMMER})
    # Issued by the national population register, the same patient whichever site sends them;
    # an H-nummer is issued by the health institution, like a local record number.
    NATIONAL_REGISTER_KINDS = frozenset({Kind.FODSELSNUMMER, Kind.D_NUMMER})
    NATIONAL_AUTHORITY = "NO-FREG"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=3, choices=Kind.choices)
    authority = models.CharField(
        max_length=64, help_text="Assigning authority: 'NO-FREG' for national numbers, else site."
    )
    value = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["authority", "kind", "value"], name="identifier_unique_per_authority"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} ({self.authority})"

    def clean(self) -> None:
        if self.kind in self.NATIONAL_KINDS:
            try:
                nin.parse_as(self.kind, self.value)
            except nin.InvalidNationalIdentityNumber as exc:
                raise ValidationError({"value": str(exc)}) from exc
