"""Classification of a study into a subspecialty worklist, and its deadline. Pure functions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

DEFAULT_WORK_UNITS = Decimal("1.00")


@dataclass(frozen=True, slots=True)
class StudyFacts:
    site_id: int
    modality: str
    body_part: str
    procedure_code: str
    procedure_text: str
    patient_age_years: int | None


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    position: int
    worklist_id: int
    work_units: Decimal
    site_id: int | None = None
    modality: str = ""
    body_part: str = ""
    procedure_code: str = ""
    procedure_code_prefix: str = ""
    description_pattern: str = ""
    min_age_years: int | None = None
    max_age_years: int | None = None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


class OrderConditions(Protocol):
    """What a rule may ask of an order: a classification rule's, a low-value rule's."""

    @property
    def modality(self) -> str: ...
    @property
    def body_part(self) -> str: ...
    @property
    def procedure_code(self) -> str: ...
    @property
    def procedure_code_prefix(self) -> str: ...
    @property
    def min_age_years(self) -> int | None: ...
    @property
    def max_age_years(self) -> int | None: ...


class OrderFacts(Protocol):
    @property
    def modality(self) -> str: ...
    @property
    def body_part(self) -> str: ...
    @property
    def procedure_code(self) -> str: ...
    @property
    def patient_age_years(self) -> int | None: ...


def order_conditions_hold(rule: OrderConditions, facts: OrderFacts) -> bool:
    """Every condition the rule sets on the order's modality, body part, procedure code (or
    its prefix) and the patient's age holds; a condition left empty holds for any order."""
    if rule.modality and rule.modality != facts.modality:
        return False
    if rule.body_part and rule.body_part.casefold() != facts.body_part.casefold():
        return False
    if rule.procedure_code and rule.procedure_code != facts.procedure_code:
        return False
    if rule.procedure_code_prefix and not facts.procedure_code.startswith(
        rule.procedure_code_prefix
    ):
        return False
    if rule.min_age_years is not None or rule.max_age_years is not None:
        # An age condition cannot match a patient whose age is unknown.
        if facts.patient_age_years is None:
            return False
        if rule.min_age_years is not None and facts.patient_age_years < rule.min_age_years:
            return False
        if rule.max_age_years is not None and facts.patient_age_years > rule.max_age_years:
            return False
    return True


def rule_matches(rule: Rule, facts: StudyFacts) -> bool:
    if rule.site_id is not None and rule.site_id != facts.site_id:
        return False
    if not order_conditions_hold(rule, facts):
        return False
    return not rule.description_pattern or bool(
        _compiled(rule.description_pattern).search(facts.procedure_text)
    )


def first_matching_rule(rules: Iterable[Rule], facts: StudyFacts) -> Rule | None:
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if rule_matches(rule, facts):
            return rule
    return None


def deadline_for(
    *,
    ready_at: dt.datetime,
    priority: str,
    contract_minutes: Mapping[str, int],
    default_minutes: Mapping[str, int],
) -> tuple[dt.datetime, str]:
    """The deadline and where its turnaround came from ('contract' or 'default')."""
    if ready_at.tzinfo is None:
        raise ValueError("ready_at must be timezone-aware")
    # In UTC: adding to a local time would add wall-clock time, an hour off across DST.
    start = ready_at.astimezone(dt.UTC)
    if priority in contract_minutes:
        return start + dt.timedelta(minutes=contract_minutes[priority]), "contract"
    return start + dt.timedelta(minutes=default_minutes[priority]), "default"


def deadline_risk(
    *,
    deadline: dt.datetime | None,
    ready_at: dt.datetime | None,
    now: dt.datetime,
    risk_fraction: float,
    risk_minutes: float = 0,
    share_cap_minutes: float | None = None,
) -> str:
    """'overdue', 'at_risk', 'ok', or '' without a deadline.

    At risk: at most ``risk_minutes`` left whatever the turnaround (a STAT due in 45 minutes),
    or at most ``risk_fraction`` of the turnaround left while no more than
    ``share_cap_minutes`` remain (so a routine study due in 14 hours is not flagged beside it).
    """
    if deadline is None:
        return ""
    if now >= deadline:
        return "overdue"
    left = (deadline - now).total_seconds()
    if left <= risk_minutes * 60:
        return "at_risk"
    within_cap = share_cap_minutes is None or left <= share_cap_minutes * 60
    if ready_at is not None and ready_at < deadline and within_cap:
        total = (deadline - ready_at).total_seconds()
        if left <= total * risk_fraction:
            return "at_risk"
    return "ok"
