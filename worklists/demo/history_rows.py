"""The rows of the demo's history, shaped as the services write them (see ``history``)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from worklists import low_value
from worklists.actors import Actor
from worklists.demo.data import CANCEL_REASONS, REFERRERS
from worklists.demo.history_plan import PlannedStudy, PlanShift
from worklists.demo.procedures import QUESTIONS
from worklists.models import (
    PRIORITY_RANK,
    Assignment,
    Radiologist,
    RoutingDecision,
    Shift,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.routing import TIER_PRIMARY
from worklists.services.escalation import aged_rank, tier_for
from worklists.services.low_value import FLAG_EVENT_KEY, active_rules
from worklists.services.routing import ROUTER

HISTORY_SOURCE = "demo-history"
HISTORY_MARK = "-H"
SHIFT_TARGET_WORK_UNITS = Decimal("30")
_RANKS: dict[str, int] = {str(p): rank for p, rank in PRIORITY_RANK.items()}


def history_accession(site: Site, day: dt.date, number: int) -> str:
    return f"{site.code[:3].upper()}{HISTORY_MARK}{day:%Y%m%d}-{number:04d}"


def question(study: PlannedStudy) -> str:
    options = QUESTIONS[study.procedure.code]
    return options[study.question_index % len(options)]


def referrer(study: PlannedStudy) -> str:
    return REFERRERS[study.question_index % len(REFERRERS)]


def cancel_reason(study: PlannedStudy) -> str:
    return CANCEL_REASONS[study.question_index % len(CANCEL_REASONS)]


class HistoryWriter:
    def __init__(
        self,
        *,
        sites: Mapping[int, Site],
        radiologists: Mapping[int, Radiologist],
        worklist_codes: Mapping[int, str],
        now: dt.datetime,
    ) -> None:
        self.sites = sites
        self.radiologists = radiologists
        self.worklist_codes = worklist_codes
        self.low_value_rules = {rule.id: rule for rule in active_rules()}
        self.now = now

    def write_shifts(self, roster: Sequence[PlanShift]) -> int:
        """The rota's shifts not written before (a shift's key is its external id)."""
        existing = set(
            Shift.objects.filter(source=HISTORY_SOURCE).values_list("radiologist_id", "external_id")
        )
        new = [
            Shift(
                radiologist_id=shift.reader_id,
                starts_at=shift.starts_at,
                ends_at=shift.ends_at,
                role=Shift.Role.PRIMARY,
                target_work_units=SHIFT_TARGET_WORK_UNITS,
                started_at=shift.starts_at,
                source=HISTORY_SOURCE,
                external_id=shift.key,
            )
            for shift in roster
            if (shift.reader_id, shift.key) not in existing and shift.starts_at < self.now
        ]
        Shift.objects.bulk_create(new, batch_size=500)
        return len(new)

    def _study(self, planned: PlannedStudy, day: dt.date, rng: random.Random) -> Study:
        site = self.sites[planned.site_id]
        status, changed_at = _outcome(planned)
        study = Study(
            site_id=site.id,
            accession_number=history_accession(site, day, planned.number),
            study_instance_uid=f"2.25.{rng.getrandbits(96)}",
            patient_id=planned.patient_id,
            modality=planned.procedure.modality,
            body_part=planned.procedure.body_part,
            procedure_code=planned.procedure.code,
            procedure_text=planned.procedure.text,
            priority=planned.priority,
            clinical_question=question(planned),
            referring_physician=referrer(planned),
            ordered_at=planned.ordered_at,
            images_available=planned.ready_at is not None,
            ready_at=planned.ready_at,
            deadline=planned.deadline,
            routing_rank=_RANKS.get(planned.priority, 3),
            status=status,
            status_changed_at=changed_at,
        )
        rule = low_value.first_matching_rule(
            self.low_value_rules.values(),
            low_value.ReferralFacts(
                modality=study.modality,
                body_part=study.body_part,
                procedure_code=study.procedure_code,
                clinical_question=study.clinical_question,
                patient_age_years=planned.patient_age_years,
            ),
        )
        if rule is not None:
            study.low_value_rule_id = rule.id
            study.low_value_text = rule.text
        if planned.classified is not None:
            study.worklist_id = planned.classified.worklist_id
            study.classification_rule_id = planned.classified.rule_id
            study.is_unclassified = planned.classified.rule_id is None
            study.work_units = planned.classified.work_units
        if planned.ready_at and planned.deadline and planned.assigned_at:
            # Escalation ran while it waited: the tier and reading rank it had reached.
            study.escalation_tier = tier_for(
                ready_at=planned.ready_at, deadline=planned.deadline, now=planned.assigned_at
            )
            study.routing_rank = aged_rank(
                priority=planned.priority, ready_at=planned.ready_at, now=planned.assigned_at
            )
        return study

    def write_day(
        self, day: dt.date, planned: Sequence[PlannedStudy], *, rng: random.Random
    ) -> int:
        studies = [self._study(p, day, rng) for p in planned]
        Study.objects.bulk_create(studies, batch_size=500)
        decisions: list[RoutingDecision] = []
        decision_of: dict[int, RoutingDecision] = {}
        for plan, study in zip(planned, studies, strict=True):
            if plan.reader_id is not None and plan.assigned_at is not None:
                decision = self._decision(plan, study)
                decisions.append(decision)
                decision_of[study.id] = decision
        RoutingDecision.objects.bulk_create(decisions, batch_size=500)
        events: list[StudyEvent] = []
        assignments: list[Assignment] = []
        for plan, study in zip(planned, studies, strict=True):
            events += self._events(plan, study)
            if plan.reader_id is not None and plan.assigned_at is not None:
                assignments.append(self._assignment(plan, study, decision_of[study.id]))
        StudyEvent.objects.bulk_create(events, batch_size=1000)
        Assignment.objects.bulk_create(assignments, batch_size=500)
        return len(studies)

    def _reader(self, plan: PlannedStudy) -> Radiologist:
        assert plan.reader_id is not None
        return self.radiologists[plan.reader_id]

    def _decision(self, plan: PlannedStudy, study: Study) -> RoutingDecision:
        reader = self._reader(plan)
        assert plan.assigned_at is not None
        if plan.pulled:
            return RoutingDecision(
                study=study,
                decided_at=plan.assigned_at,
                mode=RoutingDecision.Mode.CLAIM,
                trigger="claim",
                tier=study.escalation_tier,
                radiologist_id=reader.id,
                trace={"chosen": reader.id, "rule": "claimed by the reader"},
            )
        tier = study.escalation_tier
        trigger = "study.ready" if tier == TIER_PRIMARY else f"escalation.tier{tier}"
        return RoutingDecision(
            study=study,
            decided_at=plan.assigned_at,
            mode=RoutingDecision.Mode.PUSH,
            trigger=trigger,
            tier=tier,
            radiologist_id=reader.id,
            trace={
                "tier": tier,
                "chosen": reader.id,
                "eligible": [{"id": reader.id, "name": reader.display_name}],
                "excluded": [],
                "trigger": trigger,
                "seeded": "demo history: only the reader chosen is listed",
            },
        )

    def _assignment(
        self, plan: PlannedStudy, study: Study, decision: RoutingDecision
    ) -> Assignment:
        reader = self._reader(plan)
        assert plan.assigned_at is not None
        ended_at = plan.final_at or plan.returned_at
        return Assignment(
            study=study,
            radiologist_id=reader.id,
            kind=Assignment.Kind.PULL if plan.pulled else Assignment.Kind.PUSH,
            assigned_at=plan.assigned_at,
            assigned_by_id=reader.user_id if plan.pulled else None,
            reason="" if plan.pulled else f"routing decision {decision.id}",
            last_activity_at=plan.opened_at or plan.assigned_at,
            ended_at=ended_at,
            end_reason="signed" if plan.final_at else "referral rejected",
        )

    def _events(self, plan: PlannedStudy, study: Study) -> list[StudyEvent]:
        site_label = Actor.for_site(self.sites[plan.site_id].code).label
        events: list[StudyEvent] = []

        def add(
            to_status: str,
            at: dt.datetime,
            actor: Actor,
            reason: str = "",
            data: dict[str, Any] | None = None,
        ) -> None:
            from_status = events[-1].to_status if events else ""
            events.append(
                StudyEvent(
                    study=study,
                    from_status=from_status,
                    to_status=to_status,
                    at=at,
                    actor_id=actor.user_id,
                    actor_label=actor.label,
                    reason=reason,
                    data=data or {},
                )
            )

        site = Actor(user_id=None, label=site_label)
        add(StudyStatus.ORDERED, plan.ordered_at, site, "order received")
        if study.low_value_rule_id is not None:
            # Flagged at intake, as study_flag_low_value_locked records it.
            rule = self.low_value_rules[study.low_value_rule_id]
            flag = {"id": rule.id, "name": rule.name, "text": rule.text}
            add(
                StudyStatus.ORDERED,
                plan.ordered_at,
                site,
                "low-value referral flagged",
                {FLAG_EVENT_KEY: flag},
            )
        if plan.cancelled_at is not None:
            add(StudyStatus.CANCELLED, plan.cancelled_at, site, cancel_reason(plan))
        if plan.ready_at is None or plan.classified is None:
            return events
        assert plan.deadline is not None
        outcome = {
            "worklist": self.worklist_codes.get(plan.classified.worklist_id),
            "rule_id": plan.classified.rule_id,
            "unclassified": plan.classified.rule_id is None,
            "work_units": str(plan.classified.work_units),
            "deadline": plan.deadline.isoformat(),
            "deadline_source": "contract",
        }
        add(StudyStatus.READY, plan.ready_at, site, "images complete", outcome)
        if plan.reader_id is None or plan.assigned_at is None:
            return events
        reader = self._reader(plan)
        by_reader = Actor.for_user(reader.user)
        kind = Assignment.Kind.PULL if plan.pulled else Assignment.Kind.PUSH
        data = {"radiologist_id": reader.id, "kind": str(kind)}
        if plan.pulled:
            add(StudyStatus.ASSIGNED, plan.assigned_at, by_reader, "claimed", data)
        else:
            add(
                StudyStatus.ASSIGNED,
                plan.assigned_at,
                ROUTER,
                f"routed to {reader.display_name}",
                data,
            )
        if plan.opened_at is not None:
            add(StudyStatus.IN_PROGRESS, plan.opened_at, by_reader)
        if plan.final_at is not None:
            add(StudyStatus.FINAL, plan.final_at, by_reader)
        elif plan.returned_at is not None:
            add(StudyStatus.REJECTED, plan.returned_at, by_reader, plan.return_label)
        return events


def _outcome(plan: PlannedStudy) -> tuple[str, dt.datetime]:
    if plan.cancelled_at is not None:
        return StudyStatus.CANCELLED, plan.cancelled_at
    if plan.final_at is not None:
        return StudyStatus.FINAL, plan.final_at
    if plan.returned_at is not None:
        return StudyStatus.REJECTED, plan.returned_at
    raise ValueError("history holds finished studies only")
