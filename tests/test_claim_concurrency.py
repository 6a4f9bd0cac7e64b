"""Read next and coordinator assignment under real concurrency: real threads, real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import Counter

import pytest
from django.db import connections
from django.utils import timezone

from tests import factories
from tests.db_support import require_postgresql
from worklists.actors import Actor
from worklists.models import Assignment, Patient, Study, StudyEvent, StudyStatus
from worklists.services.claims import study_claim_next, study_coordinator_assign
from worklists.services.studies import study_start_reading

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

READERS = 32
STUDIES = 2000


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    require_postgresql()


def _run_at_once(targets: list, timeout: float = 120) -> list[BaseException]:
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def worker(target) -> None:
        try:
            barrier.wait(timeout=10)
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a reader never finished (deadlock?)"
    return errors


def _ready_studies(site, worklist, count: int) -> list[int]:
    """``count`` READY studies, one patient each except the last three, who share one patient
    (claimed together, as a bundle). Bulk-created: the subject is the claim, not the set-up."""
    now = timezone.now()
    patients = Patient.objects.bulk_create(
        Patient(family_name=f"Ås{i}", given_name="Bjørn", birth_date=dt.date(1960, 1, 1))
        for i in range(count - 2)
    )
    studies = Study.objects.bulk_create(
        Study(
            site=site,
            accession_number=f"C{i:05d}",
            patient=patients[min(i, count - 3)],
            modality="CT",
            procedure_text="CT caput",
            ordered_at=now,
            ready_at=now,
            deadline=now + dt.timedelta(minutes=30 + i),
            worklist=worklist,
            status=StudyStatus.READY,
            status_changed_at=now,
            routing_rank=0 if i % 10 == 0 else 3,
        )
        for i in range(count)
    )
    return [s.id for s in studies]


def _reader(username: str, site, worklist):
    rad = factories.RadiologistFactory.create(user__username=username)
    factories.credential(rad, site)
    factories.competence(rad, worklist)
    factories.shift(rad, worklists=(worklist,))
    return rad


def test_32_readers_calling_next_on_one_worklist_claim_every_study_exactly_once(site_a, neuro):
    readers = [_reader(f"reader{i}", site_a, neuro) for i in range(READERS)]
    study_ids = _ready_studies(site_a, neuro, STUDIES)
    claims: dict[int, list[int]] = {r.id: [] for r in readers}

    def reader_loop(rad) -> None:
        # Each reader opens what read next gives them, as the reading page does; bundled
        # studies wait in their queue, and read next gives them when they come first.
        actor = Actor(user_id=rad.user_id, label=rad.user.username)
        while (claimed := study_claim_next(radiologist_id=rad.id, actor=actor)) is not None:
            if not claimed.from_queue:
                claims[rad.id].extend(claimed.study_ids)
            study_start_reading(study_id=claimed.study_id, radiologist_id=rad.id, actor=actor)

    errors = _run_at_once([functools.partial(reader_loop, rad) for rad in readers])

    assert errors == []
    claimed_ids = [sid for ids in claims.values() for sid in ids]
    assert sorted(claimed_ids) == sorted(study_ids)  # every study, each exactly once
    assert Study.objects.filter(status=StudyStatus.READY).count() == 0
    assert Study.objects.filter(status=StudyStatus.IN_PROGRESS).count() == STUDIES
    per_study = Counter(
        Assignment.objects.filter(ended_at__isnull=True).values_list("study_id", flat=True)
    )
    assert len(per_study) == STUDIES
    assert set(per_study.values()) == {1}
    claim_events = StudyEvent.objects.filter(to_status=StudyStatus.ASSIGNED)
    assert claim_events.count() == STUDIES
    assert claim_events.filter(data__decision="read_next").count() == STUDIES
    # The patient with three studies went to one reader.
    bundle = study_ids[-3:]
    holders = set(
        Assignment.objects.filter(study_id__in=bundle).values_list("radiologist_id", flat=True)
    )
    assert len(holders) == 1
    # Skipping locked rows spreads the work instead of queueing every reader behind one row.
    assert sum(1 for ids in claims.values() if ids) > READERS // 2


@pytest.mark.parametrize("attempt", range(5))
def test_a_coordinator_reassign_racing_a_claim_leaves_exactly_one_active_assignment(
    attempt, site_a, neuro, coordinator
):
    reader = _reader(f"claimer{attempt}", site_a, neuro)
    other = _reader(f"assignee{attempt}", site_a, neuro)
    (study_id,) = _ready_studies(site_a, neuro, 3)[:1]
    Study.objects.exclude(id=study_id).update(status=StudyStatus.CANCELLED)
    reader_actor = Actor(user_id=reader.user_id, label="claimer")
    coordinator_actor = Actor.for_user(coordinator)

    errors = _run_at_once(
        [
            lambda: study_claim_next(radiologist_id=reader.id, actor=reader_actor),
            lambda: study_coordinator_assign(
                study_id=study_id,
                radiologist_id=other.id,
                actor=coordinator_actor,
                reason="surge: neuro backlog",
            ),
        ]
    )

    assert errors == []
    active = list(Assignment.objects.filter(study_id=study_id, ended_at__isnull=True))
    assert len(active) == 1
    # The coordinator always wins in the end: either assigned before the claim (the claim then
    # finds nothing) or reassigned after it.
    assert active[0].radiologist_id == other.id
    assert Study.objects.get(id=study_id).status == StudyStatus.ASSIGNED
