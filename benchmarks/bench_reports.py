"""Reports section of `make bench`: draft autosave (the hot path: every pause in typing), reading
a study's report, signing (with the real password hash), and the critical-finding escalation
scan among many findings already communicated.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reports.models import CriticalFinding, ReportVersion
from reports.selectors import report_state
from reports.services.critical import critical_findings_escalate
from reports.services.drafts import report_draft_save
from reports.services.signing import report_sign
from worklists.actors import Actor
from worklists.models import (
    Credential,
    Patient,
    Radiologist,
    Site,
    Study,
    StudyStatus,
    Worklist,
)
from worklists.services.studies import study_assign

REPEATS = int(os.environ.get("BENCH_REPEATS", "50"))
SIGNS = int(os.environ.get("BENCH_REPORT_SIGNS", "20"))
FINDINGS = int(os.environ.get("BENCH_REPORT_FINDINGS", "5000"))
PASSWORD = "bench password, never a real one"  # noqa: S105 (a throw-away bench user)


def _ms(fn: Callable[[], object], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def _sections(rng: random.Random, words: int = 120) -> list[dict[str, str]]:
    vocabulary = ["ingen", "blødning", "fraktur", "normal", "venstre", "høyre", "lapp", "kontrast"]
    text = " ".join(rng.choice(vocabulary) for _ in range(words))
    return [
        {"key": "clinical_information", "title": "Clinical information", "text": "Hodepine."},
        {"key": "technique", "title": "Technique", "text": "CT caput uten kontrast."},
        {"key": "findings", "title": "Findings", "text": text},
        {"key": "conclusion", "title": "Conclusion", "text": "Normal CT caput."},
    ]


def _held_studies(site: Site, reader: Radiologist, worklist: Worklist, count: int) -> list[int]:
    now = timezone.now()
    patient = Patient.objects.create(family_name="Benk", given_name="Rapport")
    studies = Study.objects.bulk_create(
        Study(
            site=site,
            accession_number=f"RB{i:07d}",
            patient=patient,
            modality="CT",
            procedure_text="CT caput uten kontrast",
            ordered_at=now,
            images_available=True,
            ready_at=now,
            deadline=now + dt.timedelta(hours=1),
            worklist=worklist,
            status=StudyStatus.READY,
            status_changed_at=now,
        )
        for i in range(count)
    )
    actor = Actor.system("bench")
    for study in studies:
        study_assign(study_id=study.id, radiologist_id=reader.id, actor=actor)
    return [s.id for s in studies]


def run(rng: random.Random) -> dict[str, float]:
    user = get_user_model().objects.create_user(username="bench-reporter", password=PASSWORD)
    reader = Radiologist.objects.create(user=user, hpr_number="7654321", modalities=["CT"])
    site = Site.objects.create(code="rbench", name="Rapportbenk sjukehus")
    Credential.objects.create(
        radiologist=reader, site=site, valid_from=timezone.localdate() - dt.timedelta(days=1)
    )
    worklist = Worklist.objects.create(code="rbench", name="Rapportbenk")
    ids = _held_studies(site, reader, worklist, SIGNS + 1)
    figures: dict[str, float] = {}

    autosave_study = ids[0]
    revision = [0]

    def autosave() -> None:
        report_draft_save(
            study_id=autosave_study,
            user=user,
            sections=_sections(rng),
            base_revision=revision[0],
        )
        revision[0] += 1

    samples = _ms(autosave, REPEATS)
    figures["report_autosave_p50_ms"] = statistics.median(samples)
    figures["report_autosave_p95_ms"] = _p95(samples)

    # The same through the API as the editor calls it: session, CSRF-exempt test client, JSON.
    client = Client()
    client.force_login(user)
    url = reverse("api-report", args=[autosave_study])

    def autosave_api() -> None:
        body = json.dumps({"sections": _sections(rng), "revision": revision[0]})
        response = client.put(url, body, content_type="application/json")
        assert response.status_code == 200, response.content
        revision[0] += 1

    samples = _ms(autosave_api, REPEATS)
    figures["report_autosave_api_p95_ms"] = _p95(samples)

    sign_samples = []
    for study_id in ids[1:]:
        report_draft_save(study_id=study_id, user=user, sections=_sections(rng), base_revision=0)
        start = time.perf_counter()
        report_sign(study_id=study_id, user=user, password=PASSWORD)
        sign_samples.append((time.perf_counter() - start) * 1000)
    figures["report_sign_p50_ms"] = statistics.median(sign_samples)
    # Most of a signature is the deliberate cost of checking the password.
    figures["report_password_check_p50_ms"] = statistics.median(
        _ms(lambda: user.check_password(PASSWORD), 5)
    )
    figures["report_sign_p95_ms"] = _p95(sign_samples)

    signed = Study.objects.get(id=ids[1])
    samples = _ms(lambda: report_state(study=signed).is_complete, REPEATS)
    figures["report_read_p95_ms"] = _p95(samples)

    # Many findings already communicated, a few due: the scan reads only the due ones.
    version = ReportVersion.objects.get(study_id=ids[1])
    finding_studies = ids[1:]
    now = timezone.now()
    long_ago = now - dt.timedelta(days=1)
    versions = ReportVersion.objects.bulk_create(
        ReportVersion(
            study_id=finding_studies[i % len(finding_studies)],
            number=1000 + i,
            kind="ADDENDUM",
            sections=version.sections,
            reason="bench",
            signed_by=reader,
            signer_name=version.signer_name,
            signer_hpr=version.signer_hpr,
            signed_at=long_ago,
            password_confirmed=True,
            content_hash=version.content_hash,
            critical_category="RED",
        )
        for i in range(FINDINGS)
    )
    due = 50
    CriticalFinding.objects.bulk_create(
        CriticalFinding(
            version=v,
            study_id=v.study_id,
            category="RED",
            flagged_at=long_ago,
            communicated_at=None if i < due else long_ago,
        )
        for i, v in enumerate(versions)
    )
    start = time.perf_counter()
    escalated = critical_findings_escalate(now=now)
    figures["report_escalation_scan_ms"] = (time.perf_counter() - start) * 1000
    figures["report_escalation_alerts"] = float(escalated)
    figures["report_escalation_idle_scan_ms"] = _ms(lambda: critical_findings_escalate(now=now), 5)[
        -1
    ]
    return figures
