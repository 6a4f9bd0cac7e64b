"""Reports: templates, the draft a reader is writing, the signed versions, critical findings and
their communication, and returned referrals.

A study has at most one draft (mutable, autosaved) and any number of versions (immutable once
written: the services never update them, and a database trigger refuses an UPDATE).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The sections every report has unless a template says otherwise, in the order they are shown.
STANDARD_SECTIONS: tuple[tuple[str, str], ...] = (
    ("clinical_information", "Clinical information"),
    ("technique", "Technique"),
    ("findings", "Findings"),
    ("conclusion", "Conclusion"),
)


class ReportTemplate(models.Model):
    """Sections and default text for a procedure, or for a whole subspecialty."""

    name = models.CharField(max_length=200)
    procedure_code = models.CharField(
        max_length=32, blank=True, help_text="Used for studies with exactly this procedure code."
    )
    modality = models.CharField(
        max_length=4, blank=True, help_text="Optional: only studies of this modality."
    )
    worklist = models.ForeignKey(
        "worklists.Worklist",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="report_templates",
        help_text="Used for studies in this worklist when no procedure template matches.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(procedure_code="") | Q(worklist__isnull=False),
                name="report_template_has_a_scope",
                violation_error_message="A template is for a procedure code or a worklist.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ReportTemplateSection(models.Model):
    template = models.ForeignKey(ReportTemplate, on_delete=models.CASCADE, related_name="sections")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.SlugField(
        max_length=40, help_text="e.g. clinical_information, technique, findings, conclusion"
    )
    title = models.CharField(max_length=100)
    default_text = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="template_section_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.template.name}: {self.title}"


class VersionKind(models.TextChoices):
    PRELIMINARY = "PRELIMINARY", _("Preliminary")
    FINAL = "FINAL", _("Final")
    ADDENDUM = "ADDENDUM", _("Addendum")
    CORRECTION = "CORRECTION", _("Correction")


# OBR-25 result status each kind is delivered with.
RESULT_STATUS = {
    VersionKind.PRELIMINARY: "P",
    VersionKind.FINAL: "F",
    VersionKind.ADDENDUM: "C",
    VersionKind.CORRECTION: "C",
}


class ReportDraft(models.Model):
    """What the reader is writing, saved as they type. Keyed by study, not by reader: it survives
    a claim expiry or a reassignment, and the next reader sees it and who wrote it."""

    study = models.OneToOneField(
        "worklists.Study", on_delete=models.CASCADE, related_name="report_draft"
    )
    template = models.ForeignKey(
        ReportTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sections = models.JSONField(default=list)
    revision = models.PositiveIntegerField(
        default=1, help_text="Raised by every save; a save based on an older revision is refused."
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=150)
    # Every user who saved this draft, the last author among them: a double-read study's draft
    # is one independent read, and whoever wrote any of it is kept off the later reads.
    author_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Draft of study {self.study_id} (rev {self.revision}, {self.author_name})"


class ReportVersion(models.Model):
    """One issued or signed version of a study's report. Immutable: the full text as delivered,
    who signed it and when, and a hash of exactly that content."""

    study = models.ForeignKey(
        "worklists.Study", on_delete=models.PROTECT, related_name="report_versions"
    )
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=VersionKind.choices)
    sections = models.JSONField(help_text="The whole report as valid from this version on.")
    reason = models.TextField(blank=True, help_text="Why an addendum or correction was made.")
    signed_by = models.ForeignKey(
        "worklists.Radiologist", on_delete=models.PROTECT, related_name="signed_report_versions"
    )
    signer_name = models.CharField(max_length=150)
    signer_hpr = models.CharField("HPR number", max_length=9)
    signed_at = models.DateTimeField()
    password_confirmed = models.BooleanField(
        help_text="Signed with the password re-entered (every version but a preliminary)."
    )
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the signed content.")
    critical_category = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["study", "number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "number"], name="report_version_number"),
            models.CheckConstraint(
                condition=Q(kind__in=VersionKind.values), name="report_version_kind_known"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[VersionKind.ADDENDUM, VersionKind.CORRECTION])
                | ~Q(reason=""),
                name="report_amendment_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(content_hash__regex=r"^[0-9a-f]{64}$"), name="report_version_hashed"
            ),
            # One final per study; later changes are addenda and corrections.
            models.UniqueConstraint(
                fields=["study"], condition=Q(kind="FINAL"), name="one_final_report_per_study"
            ),
            models.UniqueConstraint(
                fields=["study"],
                condition=Q(kind="PRELIMINARY"),
                name="one_preliminary_report_per_study",
            ),
        ]
        indexes = [
            # The finals in order of signature: peer review's sweep for finals never sampled
            # reads a worklist's finals from its mark on, not every final since its policy began.
            models.Index(
                fields=["signed_at"], condition=Q(kind="FINAL"), name="final_by_signed_at"
            ),
            # The addenda and corrections of a period (the indicators), a few per hundred
            # finals: read without passing over the period's finals.
            models.Index(
                fields=["signed_at"],
                condition=Q(kind__in=["ADDENDUM", "CORRECTION"]),
                name="amendment_by_signed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Study {self.study_id} v{self.number} {self.kind}"

    @property
    def result_status(self) -> str:
        return RESULT_STATUS[VersionKind(self.kind)]


class CriticalCategory(models.TextChoices):
    # After the ACR's three-tier model of actionable findings.
    RED = "RED", _("Red: immediately life-threatening, communicate within minutes")
    ORANGE = "ORANGE", _("Orange: urgent, communicate within hours")
    YELLOW = "YELLOW", _("Yellow: significant unexpected finding, communicate within days")


class CriticalFinding(models.Model):
    """A critical finding marked at signing. The report is not complete until a communication
    with read-back is recorded; without one it is escalated to the coordinators."""

    version = models.OneToOneField(
        ReportVersion, on_delete=models.PROTECT, related_name="critical_finding"
    )
    study = models.ForeignKey(
        "worklists.Study", on_delete=models.PROTECT, related_name="critical_findings"
    )
    category = models.CharField(max_length=12, choices=CriticalCategory.choices)
    flagged_at = models.DateTimeField()
    communicated_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["flagged_at"],
                condition=Q(communicated_at__isnull=True, escalated_at__isnull=True),
                name="critical_awaiting_escalation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.category} finding, study {self.study_id}"

    @property
    def is_communicated(self) -> bool:
        return self.communicated_at is not None


class CommunicationMethod(models.TextChoices):
    PHONE = "PHONE", _("Telephone")
    IN_PERSON = "IN_PERSON", _("In person")
    SECURE_MESSAGE = "SECURE_MESSAGE", _("Secure message (e-dialogue)")
    OTHER = "OTHER", _("Other")


class CriticalCommunication(models.Model):
    """Whom the finding was told to, by what means, when, and whether they read it back."""

    finding = models.ForeignKey(
        CriticalFinding, on_delete=models.PROTECT, related_name="communications"
    )
    communicated_to = models.CharField(max_length=200)
    method = models.CharField(max_length=16, choices=CommunicationMethod.choices)
    communicated_at = models.DateTimeField()
    read_back_confirmed = models.BooleanField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["communicated_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} to {self.communicated_to} at {self.communicated_at}"


class RejectionReason(models.TextChoices):
    NOT_INDICATED = "NOT_INDICATED", _("Not indicated by guideline")
    OTHER_MODALITY = "OTHER_MODALITY", _("Other modality recommended")
    INSUFFICIENT_INFORMATION = "INSUFFICIENT_INFO", _("Insufficient clinical information")
    DUPLICATE = "DUPLICATE", _("Duplicate of a recent examination")
    OTHER = "OTHER", _("Other")


class ReferralRejection(models.Model):
    """A referral returned to the site with a coded reason; counted for the indicators."""

    study = models.OneToOneField(
        "worklists.Study", on_delete=models.PROTECT, related_name="referral_rejection"
    )
    site = models.ForeignKey("worklists.Site", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=20, choices=RejectionReason.choices)
    comment = models.TextField(blank=True)
    rejected_by = models.ForeignKey(
        "worklists.Radiologist", on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=RejectionReason.values), name="rejection_reason_known"
            ),
            models.CheckConstraint(
                condition=~Q(reason="OTHER") | ~Q(comment=""), name="rejection_other_explained"
            ),
        ]
        indexes = [models.Index(fields=["site", "reason", "rejected_at"])]

    def __str__(self) -> str:
        return f"Study {self.study_id} returned: {self.get_reason_display()}"


class SigningFailure(models.Model):
    """A signature refused for a wrong password. Kept (who, which study, when) and counted:
    too many in a short time lock signing for that user, so a password cannot be guessed
    through an open session. Recorded before the password is checked (an attempt in flight
    counts) and removed again if it was right."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    study = models.ForeignKey(
        "worklists.Study", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "at"])]

    def __str__(self) -> str:
        return f"Wrong signing password by user {self.user_id} at {self.at}"


class Macro(models.Model):
    """A named text snippet the reader inserts in the report editor: personal (one
    radiologist's own) or shared by everyone reading one worklist. The rules (who may change
    which, names unique per owner and per worklist) live in reports.services.macros."""

    name = models.CharField(
        max_length=30, help_text="Typed after the trigger character, e.g. .normal; lowercase."
    )
    text = models.TextField(help_text="What the name is replaced with.")
    description = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        "worklists.Radiologist",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="macros",
        help_text="Personal: only this radiologist sees and edits it.",
    )
    worklist = models.ForeignKey(
        "worklists.Worklist",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="macros",
        help_text="Shared: offered on every study of this worklist.",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner__isnull=False, worklist__isnull=True)
                | Q(owner__isnull=True, worklist__isnull=False),
                name="macro_personal_or_shared",
                violation_error_message="A macro belongs to one radiologist or one worklist.",
            ),
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=Q(owner__isnull=False),
                name="macro_name_unique_per_owner",
            ),
            models.UniqueConstraint(
                fields=["worklist", "name"],
                condition=Q(worklist__isnull=False),
                name="macro_name_unique_per_worklist",
            ),
        ]

    def __str__(self) -> str:
        return f".{self.name}"

    @property
    def is_personal(self) -> bool:
        return self.owner_id is not None


# Double reading -----------------------------------------------------------------------------


class ResultScale(models.TextChoices):
    # Mammografiprogrammet's interpretation score: 1 normal, 2 benign, 3 probably benign,
    # 4 suspicious, 5 highly suspicious of malignancy; scored per breast, with the recall
    # decision.
    NO_SCREENING = (
        "NO_SCREENING",
        _("Norwegian screening programme: interpretation score 1-5 per breast, recall yes/no"),
    )


class AgreementRule(models.TextChoices):
    RECALL = "RECALL", _("The recall decisions agree")
    RECALL_AND_SCORES = (
        "RECALL_AND_SCORES",
        _("The recall decisions and both breasts' scores agree"),
    )
    # Mammografiprogrammet (BreastScreen Norway): a study where either reader scores either
    # breast 2 or more is discussed at the consensus meeting; only two all-1 reads agree.
    ANY_SCORE_2 = (
        "ANY_SCORE_2",
        _("Any score of 2 or more goes to consensus (the Norwegian programme's rule)"),
    )


class DoubleReadingPolicy(models.Model):
    """A worklist whose studies are read twice, independently and blind, with an arbitration
    read when the two disagree (reports.services.double_reading). Kept by coordinators in the
    admin; a worklist without an active policy is read once, as always."""

    worklist = models.OneToOneField(
        "worklists.Worklist", on_delete=models.CASCADE, related_name="double_reading_policy"
    )
    is_active = models.BooleanField(default=True)
    procedure_codes = models.CharField(
        max_length=300,
        blank=True,
        help_text="Procedure codes the policy applies to, separated by spaces (e.g. GGA0SC, "
        "screening mammography); empty: every study of the worklist.",
    )
    result_scale = models.CharField(
        max_length=16, choices=ResultScale.choices, default=ResultScale.NO_SCREENING
    )
    agreement_rule = models.CharField(
        max_length=20, choices=AgreementRule.choices, default=AgreementRule.RECALL
    )
    second_reader_other_site = models.BooleanField(
        default=False,
        help_text="The second reader works for another site than the first reader.",
    )
    consensus_readers = models.ManyToManyField(
        "worklists.Radiologist",
        blank=True,
        related_name="+",
        help_text="Arbitration goes only to these readers; empty: any third eligible reader.",
    )
    read_deadline_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Each further read (second, arbitration) is due this long after it is "
        "routed; empty: as long as the first read had.",
    )

    class Meta:
        verbose_name_plural = "double reading policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(result_scale__in=ResultScale.values), name="double_reading_scale_known"
            ),
            models.CheckConstraint(
                condition=Q(agreement_rule__in=AgreementRule.values),
                name="double_reading_rule_known",
            ),
        ]

    def __str__(self) -> str:
        return f"Double reading of {self.worklist}"

    def applies_to(self, procedure_code: str) -> bool:
        codes = self.procedure_codes.split()
        return not codes or procedure_code in codes


class DoubleReadStage(models.TextChoices):
    SECOND_READ = "SECOND_READ", _("Second read")
    ARBITRATION = "ARBITRATION", _("Arbitration")
    AGREED = "AGREED", _("Agreed")
    ARBITRATED = "ARBITRATED", _("Arbitrated")


OPEN_DOUBLE_READ_STAGES = (DoubleReadStage.SECOND_READ, DoubleReadStage.ARBITRATION)


class DoubleRead(models.Model):
    """One study's double reading, from its first independent read being signed to its final
    report. What the policy decided then (scale, agreement rule, site choice, consensus group,
    deadline) is kept with it and used from then on: an edited policy does not change a reading
    under way."""

    # CASCADE as a draft's: until the final is signed (and kept: ReportVersion is PROTECT) the
    # reads are working documents never sent anywhere; only the demo's reset deletes studies.
    study = models.OneToOneField(
        "worklists.Study", on_delete=models.CASCADE, related_name="double_read"
    )
    policy = models.ForeignKey(DoubleReadingPolicy, on_delete=models.PROTECT, related_name="+")
    agreement_rule = models.CharField(max_length=20, choices=AgreementRule.choices)
    second_reader_other_site = models.BooleanField()
    result_scale = models.CharField(
        max_length=16, choices=ResultScale.choices, default=ResultScale.NO_SCREENING
    )
    consensus_readers = models.ManyToManyField(
        "worklists.Radiologist",
        blank=True,
        related_name="+",
        help_text="The policy's consensus group when the first read was signed; empty: any "
        "third eligible reader arbitrates.",
    )
    read_deadline_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="The policy's deadline per further read, then."
    )
    stage = models.CharField(max_length=12, choices=DoubleReadStage.choices)
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    final_version = models.OneToOneField(
        ReportVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    arbitrator = models.ForeignKey(
        "worklists.Radiologist",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=DoubleReadStage.values), name="double_read_stage_known"
            ),
            models.CheckConstraint(
                condition=Q(agreement_rule__in=AgreementRule.values), name="double_read_rule_known"
            ),
            models.CheckConstraint(
                condition=Q(result_scale__in=ResultScale.values), name="double_read_scale_known"
            ),
        ]

    def __str__(self) -> str:
        return f"Double read of study {self.study_id} ({self.stage})"


class IndependentRead(models.Model):
    """One reader's independent read of a double-read study: the report text and the
    structured result, signed with the password. Never delivered to the RIS (only the final
    is) and never changed: the services only create them."""

    double_read = models.ForeignKey(DoubleRead, on_delete=models.CASCADE, related_name="reads")
    number = models.PositiveSmallIntegerField()
    radiologist = models.ForeignKey(
        "worklists.Radiologist", on_delete=models.PROTECT, related_name="independent_reads"
    )
    signer_name = models.CharField(max_length=150)
    signer_hpr = models.CharField("HPR number", max_length=9)
    sections = models.JSONField()
    score_right = models.PositiveSmallIntegerField()
    score_left = models.PositiveSmallIntegerField()
    recall = models.BooleanField()
    signed_at = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True, help_text="When this read was due.")
    content_hash = models.CharField(max_length=64)
    draft_authors = models.ManyToManyField(
        "worklists.Radiologist",
        blank=True,
        related_name="+",
        help_text="Readers besides the signer who wrote this read's draft (a draft released "
        "and finished by another): kept off the later reads as its signer is.",
    )

    class Meta:
        ordering = ["double_read", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["double_read", "number"], name="independent_read_number"
            ),
            # The two reads are two people's: the database refuses a second read by the first
            # reader whatever a service does.
            models.UniqueConstraint(
                fields=["double_read", "radiologist"], name="independent_reads_two_readers"
            ),
            models.CheckConstraint(condition=Q(number__in=(1, 2)), name="independent_read_1_or_2"),
            models.CheckConstraint(
                condition=Q(
                    score_right__gte=1, score_right__lte=5, score_left__gte=1, score_left__lte=5
                ),
                name="independent_read_scores_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["radiologist", "signed_at"], name="independent_read_by_reader")
        ]

    def __str__(self) -> str:
        return f"Read {self.number} of study {self.double_read.study_id}"
