"""Example low-value referral rules for the demo, in the spirit of the Norwegian "Kloke valg"
recommendations for imaging. Examples only, labelled so in their name, their text and
``is_example``: a service writes its own from the recommendations its clinicians stand by."""

from __future__ import annotations

from dataclasses import dataclass

from worklists.models import LowValueRule


@dataclass(frozen=True, slots=True)
class LowValueRuleSpec:
    name: str
    text: str
    modality: str
    body_part: str
    question_words: str
    excluding_words: str
    min_age_years: int | None = None


EXAMPLE_RULES: tuple[LowValueRuleSpec, ...] = (
    LowValueRuleSpec(
        "Example: MR of the lumbar spine for non-specific low back pain",
        "Eksempel (i ånden av Kloke valg): ikke bildediagnostikk ved uspesifikke "
        "korsryggsmerter uten røde flagg de første seks ukene.",
        "MR",
        "LSPINE",
        "rygg, lumbago, isjias",
        "pare, cauda, urinretensjon, feber, kreft, cancer, vekttap, traume, fall, fraktur, "
        "osteoporose",
    ),
    LowValueRuleSpec(
        "Example: CT of the head for headache without red flags",
        "Eksempel (i ånden av Kloke valg): ikke CT av hodet ved ukomplisert hodepine uten "
        "nevrologiske utfall eller andre røde flagg.",
        "CT",
        "HEAD",
        "hodepine",
        "akutt, plutselig, debut, tordenskrall, fall, traume, antikoag, eliquis, marevan, "
        "synsforstyrr, progred, feber, nakkestiv, kreft, utfall",
    ),
    LowValueRuleSpec(
        "Example: MR of the knee for degenerative knee pain from the age of 50",
        "Eksempel (i ånden av Kloke valg): ikke MR av kne ved degenerative knesmerter hos "
        "pasienter over 50 år; røntgen og klinisk undersøkelse først.",
        "MR",
        "KNEE",
        "smerte",
        "traume, låsning, instabilitet, ruptur, fall, vridning",
        min_age_years=50,
    ),
)


def ensure_low_value_rules() -> None:
    for number, spec in enumerate(EXAMPLE_RULES, start=1):
        LowValueRule.objects.update_or_create(
            name=spec.name,
            defaults={
                "position": number * 10,
                "text": spec.text,
                "is_active": True,
                "is_example": True,
                "modality": spec.modality,
                "body_part": spec.body_part,
                "question_words": spec.question_words,
                "excluding_words": spec.excluding_words,
                "min_age_years": spec.min_age_years,
            },
        )
