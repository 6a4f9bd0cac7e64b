"""A fictional regional teleradiology service to demonstrate and try out (``manage.py seed_demo``).

Everything here is invented: the hospitals, the people, and the patients, whose national numbers
are all in the synthetic range (month + 80) and can never belong to a real person. The demo users
exist only because this package creates them; all of them have the password ``demo``.

Studies go through the real services (order ingest, then the lifecycle transitions), so
classification, deadlines, events and assignments are exactly what the running system would
produce. Rerunning is safe: reference data is brought back to its demo state, and studies are
created only once unless ``reset`` asks for a fresh set.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from worklists.demo.data import DEFAULT_STUDY_COUNT, DEMO_PASSWORD
from worklists.demo.extensions import DemoContext, run_demo_steps
from worklists.demo.history import seed_history
from worklists.demo.history_rows import HISTORY_MARK
from worklists.demo.low_value import ensure_low_value_rules
from worklists.demo.people import ensure_coordinator, ensure_radiologists, ensure_site_users
from worklists.demo.reference import ensure_rules, ensure_sites, ensure_subspecialties
from worklists.demo.shifts import ensure_shifts
from worklists.demo.studies import StudySeeder, delete_demo_studies
from worklists.demo.summary import render_summary
from worklists.models import Site, Study
from worklists.services.tokens import site_token_replace

__all__ = ["DEFAULT_STUDY_COUNT", "DemoResult", "Output", "render_summary", "seed"]


class Output(Protocol):
    """Where progress messages go; a management command's ``self.stdout`` is one."""

    def write(self, msg: str, /) -> object: ...


@dataclass(frozen=True, slots=True)
class DemoResult:
    created: int
    elapsed: float
    sites: dict[str, Site]
    tokens: dict[str, str]


def seed(
    *,
    studies: int = DEFAULT_STUDY_COUNT,
    reset: bool = False,
    history_days: int = 0,
    stdout: Output,
) -> DemoResult:
    """Bring the demo service to its demo state and create ``studies`` studies if it has none."""
    started = time.monotonic()
    # Every transition broadcasts a live update after commit, and eager Celery logs each one
    # at INFO: a thousand lines that would bury the summary printed after the run.
    trace_logger = logging.getLogger("celery.app.trace")
    previous_level = trace_logger.level
    trace_logger.setLevel(logging.WARNING)
    try:
        created, sites, tokens = _seed(
            studies=studies, reset=reset, history_days=history_days, stdout=stdout
        )
    finally:
        trace_logger.setLevel(previous_level)
    return DemoResult(
        created=created, elapsed=time.monotonic() - started, sites=sites, tokens=tokens
    )


@transaction.atomic
def _seed(
    *, studies: int, reset: bool, history_days: int, stdout: Output
) -> tuple[int, dict[str, Site], dict[str, str]]:
    if reset:
        deleted = delete_demo_studies()
        stdout.write(f"Deleted {deleted} demo studies.")
    sites = ensure_sites()
    subspecialties = ensure_subspecialties()
    ensure_rules(subspecialties)
    ensure_low_value_rules()
    password_hash = make_password(DEMO_PASSWORD)
    coordinator = ensure_coordinator(password_hash)
    radiologists = ensure_radiologists(password_hash, sites, subspecialties)
    ensure_shifts(radiologists, now=timezone.now())
    ensure_site_users(password_hash, sites)
    created = 0
    # The history (``seed_demo --history-days``) is the past, not the demo's current studies.
    existing = (
        Study.objects.filter(site__in=sites.values())
        .exclude(accession_number__contains=HISTORY_MARK)
        .count()
    )
    if reset and existing:
        stdout.write(f"Kept {existing} with issued reports or deliveries (never deleted).")
    if existing and not reset:
        stdout.write(
            f"The demo sites already have {existing} studies; none added "
            "(use --reset to replace them)."
        )
    else:
        created = StudySeeder(
            sites=sites, radiologists=radiologists, coordinator=coordinator, now=timezone.now()
        ).seed(studies)
    if history_days:
        written = seed_history(
            days=history_days, sites=sites, radiologists=radiologists, now=timezone.now()
        )
        stdout.write(
            f"History: {written} studies added over the last {history_days} days "
            "(days already there are kept as they are)."
        )
    run_demo_steps(
        DemoContext(
            sites=sites,
            subspecialties=subspecialties,
            radiologists=radiologists,
            now=timezone.now(),
            stdout=stdout,
        )
    )
    tokens = {code: site_token_replace(site_code=code).key for code in sites}
    return created, sites, tokens
