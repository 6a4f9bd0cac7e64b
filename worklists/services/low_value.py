"""Low-value referral flags: an order matching an active LowValueRule is flagged at intake.

Called by order ingest inside its transaction, with the study's row locked, so every channel
(HL7, REST, DICOM images meeting their order) flags the same way. The flag is stored on the
study (rule and its text) and recorded as a StudyEvent whose data holds
``{"low_value_rule": {"id", "name", "text"}}``, the row the indicators count. A study is flagged
once: a later order change does not take the flag away (the referral as sent was flagged), but
an order changed into one that a rule matches is flagged then.
"""

from __future__ import annotations

import datetime as dt

from worklists import low_value
from worklists.actors import Actor
from worklists.models import LowValueRule, Study
from worklists.models.studies import LOW_VALUE_FLAG_KEY
from worklists.services.transitions import record_event

# The study fields a rule looks at (with the patient's age): a change to one of them in an
# order update asks the rules again.
LOW_VALUE_INPUTS = frozenset(
    {"modality", "body_part", "procedure_code", "clinical_question", "patient"}
)

FLAG_EVENT_KEY = LOW_VALUE_FLAG_KEY  # the flag events' index (worklists.models) names it


def active_rules() -> list[low_value.LowValueRule]:
    return [
        low_value.LowValueRule(
            id=r.id,
            position=r.position,
            text=r.text,
            name=r.name,
            modality=r.modality,
            body_part=r.body_part,
            procedure_code=r.procedure_code,
            procedure_code_prefix=r.procedure_code_prefix,
            min_age_years=r.min_age_years,
            max_age_years=r.max_age_years,
            question_words=low_value.words_of(r.question_words),
            excluding_words=low_value.words_of(r.excluding_words),
        )
        for r in LowValueRule.objects.filter(is_active=True)
    ]


def study_flag_low_value_locked(study: Study, *, actor: Actor, at: dt.datetime) -> int | None:
    """Flag ``study`` with the first active rule its order matches; the rule's id, or None
    (also for a study flagged already). The caller owns the transaction and has locked the
    study row."""
    if study.low_value_rule_id is not None or study.low_value_text:
        return None
    rules = active_rules()
    if not rules:
        return None
    facts = low_value.ReferralFacts(
        modality=study.modality,
        body_part=study.body_part,
        procedure_code=study.procedure_code,
        clinical_question=study.clinical_question,
        patient_age_years=study.patient.age_on(at.astimezone(study.site.zone).date()),
    )
    rule = low_value.first_matching_rule(rules, facts)
    if rule is None:
        return None
    study.low_value_rule_id = rule.id
    study.low_value_text = rule.text
    study.save(update_fields=["low_value_rule", "low_value_text", "updated_at"])
    record_event(
        study=study,
        actor=actor,
        at=at,
        reason="low-value referral flagged",
        data={FLAG_EVENT_KEY: {"id": rule.id, "name": rule.name, "text": rule.text}},
    )
    return rule.id
