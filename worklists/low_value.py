"""Low-value referral rules ("Kloke valg"): which rule, if any, flags an order. Pure functions.

A rule matches when every condition it sets holds, as a classification rule does (modality,
body part, procedure code or prefix, age), and, for the clinical question: it contains at least
one of the rule's question words (when it has any) and none of its excluding words (the red
flags that make the examination indicated). Words are matched case-insensitively as parts of
the text, so "rygg" finds "Korsryggsmerter": Norwegian writes compound words as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from worklists.classification import order_conditions_hold


@dataclass(frozen=True, slots=True)
class ReferralFacts:
    modality: str
    body_part: str
    procedure_code: str
    clinical_question: str
    patient_age_years: int | None


@dataclass(frozen=True, slots=True)
class LowValueRule:
    id: int
    position: int
    text: str
    name: str = ""
    modality: str = ""
    body_part: str = ""
    procedure_code: str = ""
    procedure_code_prefix: str = ""
    min_age_years: int | None = None
    max_age_years: int | None = None
    question_words: tuple[str, ...] = ()
    excluding_words: tuple[str, ...] = ()


def words_of(raw: str) -> tuple[str, ...]:
    """The words of a comma- or newline-separated list as the admin stores it, casefolded."""
    return tuple(w.strip().casefold() for w in raw.replace("\n", ",").split(",") if w.strip())


def rule_matches(rule: LowValueRule, facts: ReferralFacts) -> bool:
    if not order_conditions_hold(rule, facts):
        return False
    question = facts.clinical_question.casefold()
    if rule.question_words and not any(word in question for word in rule.question_words):
        return False
    return not any(word in question for word in rule.excluding_words)


def first_matching_rule(rules: Iterable[LowValueRule], facts: ReferralFacts) -> LowValueRule | None:
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if rule_matches(rule, facts):
            return rule
    return None
