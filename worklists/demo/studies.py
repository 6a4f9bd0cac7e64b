"""The demo's studies, created through the real services.

Orders go in through order ingest and move on through the lifecycle transitions, so
classification, deadlines, events and assignments are exactly what the running system would
produce; only their timestamps are moved back afterwards (see ``timelines``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from django.contrib.auth.models import AbstractUser
from django.db.models import Q
from django.utils import timezone

from worklists.actors import Actor
from worklists.demo.data import (
    CANCEL_REASONS,
    HOLD_REASONS,
    PRIORITY_ORDER,
    REFERRERS,
    REJECT_REASONS,
    SEED,
    SITES,
)
from worklists.demo.history_rows import HISTORY_MARK
from worklists.demo.patients import PatientPlan, PatientPool
from worklists.demo.procedures import PRIORITY_LETTERS, PROCEDURES, QUESTIONS, ProcedureSpec
from worklists.demo.timelines import Timeline, backdate
from worklists.models import (
    Assignment,
    AuditEvent,
    Competence,
    Credential,
    Patient,
    Priority,
    Radiologist,
    Site,
    Study,
    StudyStatus,
)
from worklists.services.orders import OrderAction, OrderInput, StudyInput, order_apply
from worklists.services.studies import (
    study_assign,
    study_finalize,
    study_hold,
    study_reject,
    study_start_reading,
)

# Target shares of the final status; what is left stays READY in a worklist.
STATUS_SHARES: tuple[tuple[str, float], ...] = (
    (StudyStatus.ORDERED, 0.13),
    (StudyStatus.FINAL, 0.32),
    (StudyStatus.ASSIGNED, 0.12),
    (StudyStatus.IN_PROGRESS, 0.06),
    (StudyStatus.CANCELLED, 0.03),
    (StudyStatus.REJECTED, 0.01),
    (StudyStatus.ON_HOLD, 0.01),
)
# How far back an order may lie, by priority, for a study that is still unread: urgent work does
# not sit for days in a working service, so only routine and cancer-pathway studies go far back.
UNREAD_MAX_AGE_HOURS: dict[str, int] = {
    Priority.STAT: 3,
    Priority.URGENT: 10,
    Priority.CANCER_PATHWAY: 40,
    Priority.ROUTINE: 100,
}
READ_MAX_AGE_HOURS = 110


def status_quota(total: int) -> list[str]:
    """Exactly how many studies end in each status, so small demo sets still show every state."""
    targets: list[str] = []
    for status, share in STATUS_SHARES:
        count = round(total * share)
        if total >= 20:
            count = max(count, 1)
        targets.extend([status] * count)
    targets = targets[:total]
    targets.extend([StudyStatus.READY] * (total - len(targets)))
    return targets


def delete_demo_studies() -> int:
    """Delete the demo sites' studies and the patients left without any; returns how many.

    The history's studies (``seed_demo --history-days``) stay too: they are the past.
    Studies with an issued report, a returned referral or a delivery owed to their site stay:
    what was signed or sent is never deleted, not even in the demo.
    """
    demo_studies = Study.objects.filter(
        site__code__in=[s.code for s in SITES],
        report_versions__isnull=True,
        referral_rejection__isnull=True,
        outbound_messages__isnull=True,
    ).exclude(accession_number__contains=HISTORY_MARK)
    patient_ids = set(demo_studies.values_list("patient_id", flat=True))
    deleted = demo_studies.count()
    demo_studies.delete()
    # Patients the audit trail points at stay: the trail is never rewritten, and the next
    # seed finds them again by their national number.
    orphans = (
        Patient.objects.filter(id__in=patient_ids, studies__isnull=True)
        .exclude(id__in=AuditEvent.objects.filter(patient__isnull=False).values("patient_id"))
        .distinct()
    )
    orphans.delete()
    return deleted


class StudySeeder:
    """Creates the studies through the real services, then gives them a plausible past."""

    def __init__(
        self,
        *,
        sites: dict[str, Site],
        radiologists: Sequence[Radiologist],
        coordinator: AbstractUser,
        now: dt.datetime,
    ) -> None:
        self.sites = sites
        self.now = now
        self.latest = now - dt.timedelta(minutes=1)
        self.today = timezone.localdate(now)
        self.rng = random.Random(f"{SEED}-studies")
        self.patient_pool = PatientPool(
            rng=self.rng,
            nin_rng=random.Random(SEED),
            site_codes=list(sites),
            today=self.today,
        )
        self.coordinator = Actor.for_user(coordinator)
        self.router = Actor.system("demo")
        self.radiologists = list(radiologists)
        self.reader_actor = {r.id: Actor.for_user(r.user) for r in self.radiologists}
        self.turnaround = {
            spec.code: dict(zip(PRIORITY_ORDER, spec.turnaround, strict=True)) for spec in SITES
        }
        self._eligibility_index()
        self.accession_counter = dict.fromkeys(sites, 0)
        self.kept_accessions = set(
            Study.objects.filter(site__in=sites.values()).values_list("accession_number", flat=True)
        )
        self.timelines: dict[int, Timeline] = {}

    def _eligibility_index(self) -> None:
        valid = Credential.objects.filter(
            Q(revoked_at__isnull=True, valid_from__lte=self.today)
            & (Q(valid_until__isnull=True) | Q(valid_until__gte=self.today)),
            radiologist__in=self.radiologists,
        )
        self.credentialed: dict[int, set[int]] = {}
        for radiologist_id, site_id in valid.values_list("radiologist_id", "site_id"):
            self.credentialed.setdefault(radiologist_id, set()).add(site_id)
        self.competent: dict[int, set[int]] = {}
        for radiologist_id, worklist_id in Competence.objects.filter(
            radiologist__in=self.radiologists
        ).values_list("radiologist_id", "worklist_id"):
            self.competent.setdefault(radiologist_id, set()).add(worklist_id)

    def eligible_readers(self, study: Study) -> list[Radiologist]:
        return [
            r
            for r in self.radiologists
            if study.site_id in self.credentialed.get(r.id, set())
            and study.worklist_id in self.competent.get(r.id, set())
            and r.reads_modality(study.modality)
        ]

    # Orders

    def _pick_procedure(self, patient: PatientPlan) -> ProcedureSpec:
        candidates = [
            p
            for p in PROCEDURES
            if (p.child_ok if patient.is_child else p.adult_ok)
            and (not p.sex or p.sex == patient.sex)
        ]
        return self.rng.choices(candidates, weights=[p.weight for p in candidates])[0]

    def _ordered_at(self, priority: str, target: str) -> dt.datetime:
        if target == StudyStatus.ORDERED:
            hours = self.rng.uniform(0.1, 8)
        elif target in (StudyStatus.READY, StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS):
            hours = self.rng.uniform(0.2, UNREAD_MAX_AGE_HOURS[priority])
        else:
            hours = self.rng.uniform(1, READ_MAX_AGE_HOURS)
        return self.now - dt.timedelta(hours=hours)

    def _accession(self, site_code: str) -> str:
        # Studies kept by a reset (signed reports are never deleted) keep their numbers: skip them.
        prefix = site_code[:3].upper()
        while True:
            self.accession_counter[site_code] += 1
            accession = f"{prefix}{self.today:%y}{self.accession_counter[site_code]:06d}"
            if accession not in self.kept_accessions:
                return accession

    def seed(self, count: int) -> int:
        targets = status_quota(count)
        self.rng.shuffle(targets)
        for target in targets:
            self._create_one(target)
        backdate(self.timelines)
        return len(targets)

    def _create_one(self, target: str) -> None:
        rng = self.rng
        patient, site_code = self.patient_pool.pick()
        procedure = self._pick_procedure(patient)
        priority = PRIORITY_LETTERS[rng.choice(procedure.priorities)]
        ordered_at = self._ordered_at(priority, target)
        site = self.sites[site_code]
        site_actor = Actor.for_site(site_code)
        accession = self._accession(site_code)
        images = target != StudyStatus.ORDERED
        result = order_apply(
            site_id=site.id,
            order=OrderInput(
                accession_number=accession,
                action=OrderAction.NEW,
                patient=patient.order_input(site_code),
                study=StudyInput(
                    modality=procedure.modality,
                    procedure_text=procedure.text,
                    procedure_code=procedure.code,
                    body_part=procedure.body_part,
                    ordered_at=ordered_at,
                    priority=priority,
                    clinical_question=rng.choice(QUESTIONS[procedure.code]),
                    referring_physician=rng.choice(REFERRERS),
                    study_instance_uid=f"2.25.{rng.getrandbits(96)}",
                ),
                images_available=images,
            ),
            actor=site_actor,
        )
        study = result.study
        timeline = Timeline(ordered_at=ordered_at)
        self.timelines[study.id] = timeline
        if not images:
            # A few orders are withdrawn before the images ever arrive.
            if rng.random() < 0.12:
                self._cancel(study, site_code, timeline, start=ordered_at)
            return
        ready_at = self._between(ordered_at, minutes=(4, 50))
        timeline.at_by_status[StudyStatus.READY] = ready_at
        self._advance(study, target, timeline, ready_at)

    def _advance(
        self, study: Study, target: str, timeline: Timeline, ready_at: dt.datetime
    ) -> None:
        rng = self.rng
        if target == StudyStatus.CANCELLED:
            self._cancel(study, study.site.code, timeline, start=ready_at)
            return
        if target == StudyStatus.REJECTED:
            study_reject(study_id=study.id, actor=self.coordinator, reason=REJECT_REASONS[0])
            timeline.at_by_status[StudyStatus.REJECTED] = self._later(ready_at, 0.2)
            return
        if target == StudyStatus.ON_HOLD:
            study_hold(study_id=study.id, actor=self.coordinator, reason=HOLD_REASONS[0])
            timeline.at_by_status[StudyStatus.ON_HOLD] = self._later(ready_at, 0.3)
            return
        if target not in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS, StudyStatus.FINAL):
            return
        readers = self.eligible_readers(study)
        if not readers:
            return  # nobody may read it here: it waits in its worklist, as it would for real
        reader = rng.choice(readers)
        reader_actor = self.reader_actor[reader.id]
        mode = rng.random()
        if mode < 0.6:
            kind, actor, reason = Assignment.Kind.PUSH, self.router, ""
        elif mode < 0.9:
            kind, actor, reason = Assignment.Kind.PULL, reader_actor, "read next"
        else:
            kind, actor, reason = (
                Assignment.Kind.MANUAL,
                self.coordinator,
                "Fordelt manuelt til subspesialist.",
            )
        study_assign(
            study_id=study.id, radiologist_id=reader.id, actor=actor, kind=kind, reason=reason
        )
        if target == StudyStatus.ASSIGNED:
            timeline.at_by_status[StudyStatus.ASSIGNED] = self._later(ready_at, 0.5)
            return
        study_start_reading(study_id=study.id, radiologist_id=reader.id, actor=reader_actor)
        if target == StudyStatus.IN_PROGRESS:
            started_at = max(ready_at, self.latest - dt.timedelta(minutes=rng.uniform(1, 40)))
            timeline.at_by_status[StudyStatus.IN_PROGRESS] = started_at
            timeline.at_by_status[StudyStatus.ASSIGNED] = self._fraction(
                ready_at, started_at, rng.uniform(0.2, 0.9)
            )
            return
        study_finalize(study_id=study.id, radiologist_id=reader.id, actor=reader_actor)
        turnaround = dt.timedelta(minutes=self.turnaround[study.site.code][study.priority])
        # Most studies are signed well inside their contract; about one in ten is late.
        share = rng.uniform(1.0, 1.4) if rng.random() < 0.1 else rng.uniform(0.05, 0.85)
        final_at = min(ready_at + turnaround * share, self.latest)
        started_at = max(ready_at, final_at - dt.timedelta(minutes=rng.uniform(3, 30)))
        timeline.at_by_status[StudyStatus.FINAL] = final_at
        timeline.at_by_status[StudyStatus.IN_PROGRESS] = started_at
        timeline.at_by_status[StudyStatus.ASSIGNED] = self._fraction(
            ready_at, started_at, rng.uniform(0.1, 0.95)
        )

    def _cancel(self, study: Study, site_code: str, timeline: Timeline, start: dt.datetime) -> None:
        order_apply(
            site_id=study.site_id,
            order=OrderInput(
                accession_number=study.accession_number,
                action=OrderAction.CANCEL,
                reason=self.rng.choice(CANCEL_REASONS),
            ),
            actor=Actor.for_site(site_code),
        )
        timeline.at_by_status[StudyStatus.CANCELLED] = self._later(start, 0.5)

    # Time helpers: every planned moment lies between the order and one minute ago.

    def _between(self, start: dt.datetime, *, minutes: tuple[int, int]) -> dt.datetime:
        wanted = start + dt.timedelta(minutes=self.rng.uniform(*minutes))
        if wanted <= self.latest:
            return wanted
        return self._fraction(start, self.latest, 0.5)

    def _later(self, start: dt.datetime, max_share: float) -> dt.datetime:
        return self._fraction(start, self.latest, self.rng.uniform(0.02, max_share))

    @staticmethod
    def _fraction(start: dt.datetime, end: dt.datetime, share: float) -> dt.datetime:
        if end <= start:
            return start
        return start + (end - start) * share
