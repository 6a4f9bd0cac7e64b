"""``seed_demo --history-days N``: the demo's past, so that indicators, the capacity outlook and
the capacity planner have months of real-looking events to work from.

What it writes is what the services would have written for the plan (``history_plan``): each
study with an event per transition (ordered, ready with its classification, assigned, opened,
final, or cancelled, or returned), its assignment, the routing decision of a push, the rota's
shifts. Written with ``bulk_create`` for speed, so the live broadcasts, the after-commit pushes
and the audit of reads (there are none) do not happen. Shortcuts, all visible in the data:
- a push's stored routing decision lists only the reader chosen (``trace["seeded"]``), not
  every reader the router weighed then;
- the signed reports, returned referrals and critical findings are the reports app's (its demo
  step writes them for every final or returned demo study that lacks them);
- the reading model carries readers' busy time only across the days written in one run.

Idempotent: a day that has history studies is not written again; studies carry the day in
their accession number (``FJO-H20260901-0001``). Synthetic patients only (``PatientPool``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from django.conf import settings
from django.utils import timezone

from worklists import classification
from worklists.demo.data import SEED
from worklists.demo.history_plan import (
    OSLO,
    Classified,
    PlannedStudy,
    PlanReader,
    ReadingModel,
    arrivals_for_day,
    plan_day_studies,
    roster_for_day,
)
from worklists.demo.history_rows import HISTORY_MARK, HistoryWriter
from worklists.demo.patients import PatientPool
from worklists.models import (
    Competence,
    Credential,
    DeadlineContract,
    Patient,
    Radiologist,
    Site,
    Study,
    Worklist,
)
from worklists.services.patients import patient_resolve_locked
from worklists.services.studies import classification_rules

HISTORY_PATIENTS = 300
# History ends a few days back, so that every study in it is read, returned or cancelled.
GAP_DAYS = 3


def _days_present(sites: Sequence[Site]) -> set[dt.date]:
    numbers = Study.objects.filter(
        site__in=sites, accession_number__contains=f"{HISTORY_MARK}2"
    ).values_list("accession_number", flat=True)
    days: set[dt.date] = set()
    for accession in numbers.distinct():
        stamp = accession.split(HISTORY_MARK, 1)[1][:8]
        days.add(dt.date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8])))
    return days


def _plan_readers(radiologists: Sequence[Radiologist]) -> list[PlanReader]:
    ids = [r.id for r in radiologists]
    worklists: dict[int, set[int]] = {}
    backups: dict[int, set[int]] = {}
    for rid, wl, level in Competence.objects.filter(radiologist_id__in=ids).values_list(
        "radiologist_id", "worklist_id", "level"
    ):
        worklists.setdefault(rid, set()).add(wl)
        if level == Competence.Level.BACKUP:
            backups.setdefault(rid, set()).add(wl)
    sites: dict[int, set[int]] = {}
    for rid, site_id in Credential.objects.filter(
        radiologist_id__in=ids, revoked_at__isnull=True
    ).values_list("radiologist_id", "site_id"):
        sites.setdefault(rid, set()).add(site_id)
    return [
        PlanReader(
            id=r.id,
            name=r.display_name,
            modalities=frozenset(r.modalities),
            worklist_ids=frozenset(worklists.get(r.id, ())),
            backup_worklist_ids=frozenset(backups.get(r.id, ())),
            site_ids=frozenset(sites.get(r.id, ())),
        )
        for r in sorted(radiologists, key=lambda r: r.id)
    ]


def _patients(sites: dict[str, Site], today: dt.date) -> list[Patient]:
    """The history's synthetic patients, created through patient resolution (found again on
    the next run by their national numbers)."""
    pool = PatientPool(
        rng=random.Random(f"{SEED}-history-patients"),
        nin_rng=random.Random(f"{SEED}-history-nin"),
        site_codes=list(sites),
        today=today,
    )
    patients: list[Patient] = []
    for _ in range(HISTORY_PATIENTS):
        plan = pool.new_patient()
        patient, _changes = patient_resolve_locked(
            site=sites[plan.home_site], patient_in=plan.order_input(plan.home_site)
        )
        assert patient is not None
        patients.append(patient)
    return patients


def _classifier(sites: dict[str, Site]) -> tuple[list[classification.Rule], int]:
    rules = classification_rules()
    general = Worklist.objects.get(is_general=True).id
    return rules, general


def seed_history(
    *,
    days: int,
    sites: dict[str, Site],
    radiologists: Sequence[Radiologist],
    now: dt.datetime,
) -> int:
    """Write the days of the last ``days`` (ending GAP_DAYS before today) that have no history
    yet; returns how many studies were written."""
    if days <= 0:
        return 0
    today = timezone.localdate(now, OSLO)
    last = today - dt.timedelta(days=GAP_DAYS)
    wanted = [last - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    present = _days_present(list(sites.values()))
    missing = [day for day in wanted if day not in present]
    if not missing:
        return 0
    site_list = sorted(sites.values(), key=lambda s: s.id)
    readers = _plan_readers(radiologists)
    roster_days = [missing[0] - dt.timedelta(days=1)]
    roster_days += [missing[0] + dt.timedelta(days=n) for n in range((today - missing[0]).days)]
    roster = [shift for day in roster_days for shift in roster_for_day(readers, day)]
    model = ReadingModel(readers=readers, shifts=roster)
    patients = _patients(sites, today)
    by_id = {p.id: p for p in patients}
    by_site: dict[int, list[Patient]] = {}
    for patient in patients:
        if patient.home_site_id is not None:
            by_site.setdefault(patient.home_site_id, []).append(patient)
    for site in site_list:
        by_site.setdefault(site.id, patients)
    rules, general_id = _classifier(sites)
    contracts: dict[int, dict[str, int]] = {}
    for site_id, priority, minutes in DeadlineContract.objects.values_list(
        "site_id", "priority", "turnaround_minutes"
    ):
        contracts.setdefault(site_id, {})[priority] = minutes
    for site in site_list:
        for priority, minutes in settings.DEFAULT_TURNAROUND_MINUTES.items():
            contracts.setdefault(site.id, {}).setdefault(priority, minutes)
    writer = HistoryWriter(
        sites={s.id: s for s in site_list},
        radiologists={r.id: r for r in radiologists},
        worklist_codes=dict(Worklist.objects.values_list("id", "code")),
        now=now,
    )
    writer.write_shifts(roster)
    written = 0
    missing_set = set(missing)
    day = missing[0]
    while day <= missing[-1]:
        rng = random.Random(f"{SEED}-history-{day.isoformat()}")
        planned = arrivals_for_day(
            day, site_ids=[s.id for s in site_list], patient_count=len(patients), rng=rng
        )
        for study in planned:
            own = by_site[study.site_id]
            patient = own[study.patient_index % len(own)]
            study.patient_id = patient.id
            study.patient_age_years = patient.age_on(study.ordered_at.astimezone(OSLO).date())
        classify = {
            index: _classify(study, by_id[study.patient_id], rules, general_id)
            for index, study in enumerate(planned)
        }
        plan_day_studies(planned, model=model, classify=classify, contracts=contracts, rng=rng)
        if day in missing_set:
            written += writer.write_day(day, _finished(planned, now), rng=rng)
        day += dt.timedelta(days=1)
    return written


def _finished(planned: Sequence[PlannedStudy], now: dt.datetime) -> list[PlannedStudy]:
    """The studies whose whole story lies in the past: read, returned or cancelled by now."""
    latest = now - dt.timedelta(minutes=1)
    done: list[PlannedStudy] = []
    for study in planned:
        end = study.cancelled_at or study.final_at or study.returned_at
        if end is not None and end <= latest:
            done.append(study)
    return done


def _classify(
    study: PlannedStudy, patient: Patient, rules: list[classification.Rule], general_id: int
) -> Classified:
    """What the real rules give the order (as ``study_mark_ready`` classifies it)."""
    local_day = study.ordered_at.astimezone(OSLO).date()
    facts = classification.StudyFacts(
        site_id=study.site_id,
        modality=study.procedure.modality,
        body_part=study.procedure.body_part,
        procedure_code=study.procedure.code,
        procedure_text=study.procedure.text,
        patient_age_years=patient.age_on(local_day),
    )
    rule = classification.first_matching_rule(rules, facts)
    if rule is None:
        return Classified(general_id, None, classification.DEFAULT_WORK_UNITS)
    return Classified(rule.worklist_id, rule.id, rule.work_units)
