"""Section `indicators`: the indicators page for one month over BENCH_STUDIES studies of
history (issue 17: 1,000,000 studies on PostgreSQL, p95 per page load under 500 ms).

The history is written in bulk (studies, their lifecycle events, report versions, critical
findings, returned referrals, escalation decisions, shifts): plausible, not replayed through the
services, which would take hours at that size. One site reads slowly, so the page has an outlier
to mark. `history()` is also what the browser test and the screenshots show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import random
import statistics
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from indicators.rollup import keep_closed_days
from reports.models import CriticalFinding, ReferralRejection, ReportVersion
from worklists.access import COORDINATORS_GROUP
from worklists.models import (
    Patient,
    Radiologist,
    RoutingDecision,
    Shift,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
    Worklist,
)

STUDIES = int(os.environ.get("BENCH_STUDIES", "200000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "50"))
# About 7,000 studies a day regionally: 1,000,000 studies are about 140 days of history.
STUDIES_PER_DAY = 7000
BATCH = 5000

SITE_NAMES = (
    "Fjordheim sjukehus",
    "Havbakken sykehus",
    "Elvedal sjukehus",
    "Nordskjær sykehus",
    "Vidda røntgen",
    "Sølvberg sjukehus",
    "Lysvika røntgeninstitutt",
)
WORKLISTS = (
    ("neuro", "Nevro"),
    ("msk", "Muskel og skjelett"),
    ("thorax", "Thorax"),
    ("abdomen", "Abdomen"),
    ("emergency", "Akutt"),
)
# priority, weight, deadline hours
PRIORITIES = (("STAT", 5, 1), ("URGENT", 15, 4), ("CANCER_PATHWAY", 10, 48), ("ROUTINE", 70, 72))
WORK_UNITS = (
    Decimal("0.30"),
    Decimal("0.50"),
    Decimal("1.00"),
    Decimal("1.20"),
    Decimal("2.00"),
    Decimal("2.50"),
)
MODALITIES = ("CT", "MR", "CR", "DX", "US", "MG")


@dataclasses.dataclass
class History:
    sites: list[Site]
    readers: list[Radiologist]
    coordinator_username: str


def _minutes(base: dt.datetime, minutes: float) -> dt.datetime:
    return base + dt.timedelta(minutes=minutes)


def history(
    rng: random.Random,
    *,
    studies: int,
    readers: int = 20,
    prefix: str = "ind",
    password: str | None = None,
) -> History:
    """``studies`` studies over the days before now, with their events and reports; the
    coordinator signs in with ``password`` (None: nobody signs in, the bench logs in directly)."""
    User = get_user_model()  # noqa: N806
    coordinator = User.objects.create_user(username=f"{prefix}-coordinator", password=password)
    coordinator.groups.add(Group.objects.get_or_create(name=COORDINATORS_GROUP)[0])
    sites = [Site.objects.create(code=f"{prefix}{i}", name=n) for i, n in enumerate(SITE_NAMES)]
    worklists = [Worklist.objects.create(code=f"{prefix}-{c}", name=n) for c, n in WORKLISTS]
    people = []
    for i in range(readers):
        user = User.objects.create_user(
            username=f"{prefix}-rad{i:02d}", first_name="Lege", last_name=f"{i + 1:02d}"
        )
        people.append(Radiologist(user=user, hpr_number=f"{8100000 + i}", modalities=["CT"]))
    Radiologist.objects.bulk_create(people)
    people = list(Radiologist.objects.filter(user__username__startswith=f"{prefix}-rad"))
    patients = Patient.objects.bulk_create(
        Patient(family_name=f"Benk{i}", given_name="Pasient", sex="F") for i in range(200)
    )
    now = timezone.now()
    days = max(1, studies // STUDIES_PER_DAY + 1)
    slowness = {site.id: (3.0 if index == 2 else 1.0) for index, site in enumerate(sites)}
    weights = [w for _p, w, _h in PRIORITIES]
    for start in range(0, studies, BATCH):
        count = min(BATCH, studies - start)
        rows = []
        for i in range(start, start + count):
            priority, _w, hours = rng.choices(PRIORITIES, weights)[0]
            # In the order they arrive, as in production: a period's rows lie together in
            # each table, not spread over every page of it.
            span = days * 24 * 60 - 60
            ago = 60 + span * (1 - (i + rng.random()) / studies)
            ordered = now - dt.timedelta(minutes=ago)
            site = rng.choice(sites)
            rows.append(
                Study(
                    site=site,
                    accession_number=f"{prefix.upper()}{i:08d}",
                    patient=rng.choice(patients),
                    modality=rng.choice(MODALITIES),
                    procedure_text="Benk",
                    priority=priority,
                    ordered_at=ordered,
                    ready_at=_minutes(ordered, rng.uniform(2, 60)),
                    deadline=_minutes(ordered, hours * 60),
                    worklist=rng.choice(worklists),
                    work_units=rng.choice(WORK_UNITS),
                    status=StudyStatus.FINAL,
                    status_changed_at=ordered,
                )
            )
        made = Study.objects.bulk_create(rows, batch_size=BATCH)
        _lifecycles(rng, made, people, slowness, now)
    _shifts(rng, people, worklists, now, days)
    return History(sites=sites, readers=people, coordinator_username=coordinator.username)


def _lifecycles(rng, studies, people, slowness, now) -> None:
    S = StudyStatus  # noqa: N806
    events, versions, rejections, decisions = [], [], [], []
    for study in studies:
        reader = rng.choice(people)
        ready = study.ready_at
        opened = _minutes(ready, rng.expovariate(1 / (25 * slowness[study.site_id])))
        done = _minutes(opened, rng.uniform(4, 30) * slowness[study.site_id])
        steps = [
            (S.ORDERED, study.ordered_at, None),
            (S.READY, ready, None),
            (S.ASSIGNED, _minutes(ready, 1), None),
        ]
        fate = rng.random()
        if done > now:
            steps.append((S.IN_PROGRESS, min(opened, now), reader))
            study.status = S.IN_PROGRESS
        elif fate < 0.02:
            steps.append((S.REJECTED, opened, reader))
            study.status = S.REJECTED
            rejections.append(
                ReferralRejection(
                    study=study,
                    site_id=study.site_id,
                    reason="NOT_INDICATED",
                    rejected_by=reader,
                    rejected_at=opened,
                )
            )
        elif fate < 0.05:
            steps += [(S.IN_PROGRESS, opened, reader), (S.CANCELLED, done, None)]
            study.status = S.CANCELLED
        else:
            steps.append((S.IN_PROGRESS, opened, reader))
            if study.priority == "STAT" and fate < 0.5:
                steps.append((S.PRELIMINARY, _minutes(opened, 5), reader))
            steps.append((S.FINAL, done, reader))
            versions.append(_version(study, 1, "FINAL", reader, done))
            if fate > 0.98:
                versions.append(_version(study, 2, "ADDENDUM", reader, _minutes(done, 90)))
            elif fate > 0.97:
                versions.append(_version(study, 2, "CORRECTION", reader, _minutes(done, 200)))
        if 0.05 < fate < 0.09:
            decisions.append(
                RoutingDecision(
                    study=study,
                    decided_at=_minutes(ready, 30),
                    mode="PUSH",
                    trigger="escalation.tier1",
                    tier=1,
                )
            )
        previous = ""
        for status, at, actor in steps:
            events.append(
                StudyEvent(
                    study=study,
                    from_status=previous,
                    to_status=status,
                    actor_id=actor.user_id if actor else None,
                    actor_label=actor.hpr_number if actor else "bench",
                    at=at,
                )
            )
            previous = status
    events.sort(key=lambda event: event.at)
    versions.sort(key=lambda version: version.signed_at)
    StudyEvent.objects.bulk_create(events, batch_size=BATCH)
    made = ReportVersion.objects.bulk_create(versions, batch_size=BATCH)
    ReferralRejection.objects.bulk_create(rejections, batch_size=BATCH)
    RoutingDecision.objects.bulk_create(decisions, batch_size=BATCH)
    Study.objects.bulk_update(
        [s for s in studies if s.status != StudyStatus.FINAL], ["status"], batch_size=BATCH
    )
    findings = [
        CriticalFinding(
            version=v,
            study_id=v.study_id,
            category=rng.choice(("RED", "ORANGE")),
            flagged_at=v.signed_at,
            communicated_at=_minutes(v.signed_at, rng.uniform(3, 40))
            if rng.random() < 0.9
            else None,
        )
        for v in made
        if v.kind == "FINAL" and rng.random() < 0.01
    ]
    CriticalFinding.objects.bulk_create(findings, batch_size=BATCH)


def _version(study: Study, number: int, kind: str, reader: Radiologist, at: dt.datetime):
    return ReportVersion(
        study=study,
        number=number,
        kind=kind,
        sections=[],
        reason="" if kind == "FINAL" else "bench",
        signed_by=reader,
        signer_name="Lege",
        signer_hpr=reader.hpr_number,
        signed_at=at,
        password_confirmed=True,
        content_hash=hashlib.sha256(f"{study.pk}-{number}".encode()).hexdigest(),
    )


def _shifts(rng, people, worklists, now, days) -> None:
    """Every reader an eight-hour shift on most days, on one or two worklists."""
    shifts, through = [], []
    for day in range(days + 1):
        start = now.replace(hour=8, minute=0, second=0, microsecond=0) - dt.timedelta(days=day)
        for reader in people:
            if rng.random() < 0.7:
                hours = rng.choice((6, 8, 8, 10))
                shifts.append(
                    Shift(
                        radiologist=reader,
                        starts_at=start,
                        ends_at=start + dt.timedelta(hours=hours),
                    )
                )
    made = Shift.objects.bulk_create(shifts, batch_size=BATCH)
    for shift in made:
        for worklist in rng.sample(worklists, rng.choice((1, 2))):
            through.append(Shift.worklists.through(shift_id=shift.id, worklist_id=worklist.id))
    Shift.worklists.through.objects.bulk_create(through, batch_size=BATCH)


def _kept_history() -> str | None:
    """With BENCH_KEEP_DB=1: the coordinator of a history of this size written by an earlier run
    into the kept database (its moments are relative to that run's now: a kept history ages)."""
    if os.environ.get("BENCH_KEEP_DB") != "1":
        return None
    user = get_user_model().objects.filter(username="ind-coordinator").first()
    if user is None or Study.objects.filter(accession_number__startswith="IND").count() != STUDIES:
        return None
    return user.username


def run(rng: random.Random) -> dict[str, float]:
    start = time.perf_counter()
    coordinator = _kept_history()
    kept = coordinator is not None
    if coordinator is None:
        made = history(rng, studies=STUDIES, readers=150 if STUDIES >= 500_000 else 30)
        coordinator = made.coordinator_username
    else:
        print("indicators: the kept history is used again", flush=True)
    populated = time.perf_counter() - start
    # As Celery beat does every hour in production: the closed days counted once, so the page
    # reads their counts and today's milestone rows (docs/indicators.md, "Closed days kept").
    begun = time.perf_counter()
    kept_days = keep_closed_days()
    keeping = time.perf_counter() - begun
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    client = Client()
    client.force_login(get_user_model().objects.get(username=coordinator))
    url = reverse("indicators")
    samples = []
    for _ in range(REPEATS):
        begun = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - begun) * 1000)
        assert response.status_code == 200, response.status_code
    samples.sort()
    seeded = {} if kept else {"indicators_populate_s": populated}  # kept: nothing was written
    return {
        **seeded,
        "indicators_days_kept": kept_days,
        "indicators_keep_days_s": keeping,
        "indicators_page_p50_ms": statistics.median(samples),
        "indicators_page_p95_ms": samples[max(0, round(0.95 * len(samples)) - 1)],
    }
