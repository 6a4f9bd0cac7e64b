"""One reading order for everything a reader may read: read next, on the database, takes the
first study in reading order among the reader's own queue and the free studies they may take.
Runs on SQLite (the ORM path) and on PostgreSQL (the claim statement)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from worklists.actors import Actor
from worklists.models import Assignment, RoutingDecision, Study, StudyStatus
from worklists.services.claims import study_claim_next
from worklists.services.routing import forget_coverage_cache

pytestmark = pytest.mark.django_db

RANKS = {"STAT": 0, "URGENT": 1, "CANCER_PATHWAY": 2, "ROUTINE": 3}


class Rollback(Exception):
    """Undo one example's rows."""


study_specs = st.fixed_dictionaries(
    {
        "priority": st.sampled_from(list(RANKS)),
        "minutes_left": st.integers(5, 3000),
        # where it waits: the reader's own queue, the pool at a site they read, or the pool of
        # a site they hold no credential for, or a modality they do not read
        "place": st.sampled_from(["queue", "pool", "pool", "other_site", "other_modality"]),
    }
)


def reading_key(study: Study) -> tuple[int, dt.datetime, int]:
    assert study.deadline is not None
    return (study.routing_rank, study.deadline, study.id)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(study_specs, max_size=7))
def test_read_next_never_returns_a_study_while_a_more_urgent_readable_one_waits(
    specs, owner, site_a, site_b, neuro
):
    forget_coverage_cache()
    try:
        with transaction.atomic():
            factories.shift(owner, worklists=(neuro,))
            now = timezone.now()
            readable: list[Study] = []
            queued: set[int] = set()
            for spec in specs:
                place = spec["place"]
                study = factories.ready_study(
                    site_b if place == "other_site" else site_a,
                    neuro,
                    priority=spec["priority"],
                    modality="XA" if place == "other_modality" else "CT",
                    deadline=now + dt.timedelta(minutes=spec["minutes_left"]),
                )
                if place == "queue":
                    Study.objects.filter(id=study.id).update(status=StudyStatus.ASSIGNED)
                    Assignment.objects.create(
                        study=study, radiologist=owner, kind=Assignment.Kind.PUSH, assigned_at=now
                    )
                    queued.add(study.id)
                if place in ("queue", "pool"):
                    readable.append(study)

            claimed = study_claim_next(radiologist_id=owner.id, actor=Actor.system("test"))

            if not readable:
                assert claimed is None
            else:
                expected = min(readable, key=reading_key)
                assert claimed is not None
                assert claimed.study_id == expected.id
                assert claimed.from_queue == (expected.id in queued)
                picked = Study.objects.get(id=expected.id)
                assert picked.status == StudyStatus.ASSIGNED
                holder = Assignment.objects.get(study=picked, ended_at__isnull=True)
                assert holder.radiologist_id == owner.id
                if any(s.routing_rank == 0 for s in readable if s.id in queued):
                    assert picked.routing_rank == 0  # a queued STAT beats any routine study
            raise Rollback
    except Rollback:
        pass
    forget_coverage_cache()


@pytest.fixture
def reader(owner, neuro):
    factories.shift(owner, worklists=(neuro,))
    forget_coverage_cache()
    yield owner
    forget_coverage_cache()


def test_a_pushed_stat_is_read_before_three_routine_pool_studies(reader, site_a, neuro):
    now = timezone.now()
    for minutes in (5, 10, 15):  # routine, but due sooner than the STAT
        factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(minutes=minutes))
    stat = factories.ready_study(
        site_a, neuro, priority="STAT", deadline=now + dt.timedelta(minutes=50)
    )
    Study.objects.filter(id=stat.id).update(status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=stat, radiologist=reader, kind=Assignment.Kind.PUSH, assigned_at=now
    )

    claimed = study_claim_next(radiologist_id=reader.id, actor=Actor.system("test"))

    assert claimed is not None
    assert (claimed.study_ids, claimed.from_queue) == ([stat.id], True)
    # the choice is one decision with its trace; nothing was claimed from the pool
    decision = RoutingDecision.objects.get(study=stat)
    assert (decision.mode, decision.trigger, decision.radiologist_id) == (
        RoutingDecision.Mode.PULL,
        "read next: own queue",
        reader.id,
    )
    assert decision.trace["source"] == "queue"
    assert Assignment.objects.filter(radiologist=reader, ended_at__isnull=True).count() == 1
    assert Study.objects.filter(status=StudyStatus.READY).count() == 3


def test_a_more_urgent_pool_study_is_claimed_before_the_routine_queue(reader, site_a, neuro):
    now = timezone.now()
    queued = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=20))
    Study.objects.filter(id=queued.id).update(status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=queued, radiologist=reader, kind=Assignment.Kind.PUSH, assigned_at=now
    )
    urgent = factories.ready_study(
        site_a, neuro, priority="URGENT", deadline=now + dt.timedelta(hours=5)
    )

    claimed = study_claim_next(radiologist_id=reader.id, actor=Actor.system("test"))

    assert claimed is not None
    assert (claimed.study_ids, claimed.from_queue) == ([urgent.id], False)
    assert Assignment.objects.filter(radiologist=reader, ended_at__isnull=True).count() == 2


def test_an_off_shift_reader_still_gets_their_own_queue(owner, site_a, neuro):
    forget_coverage_cache()
    now = timezone.now()
    queued = factories.ready_study(site_a, neuro)
    Study.objects.filter(id=queued.id).update(status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=queued, radiologist=owner, kind=Assignment.Kind.MANUAL, assigned_at=now
    )
    factories.ready_study(site_a, neuro, priority="STAT")  # not theirs to take off shift

    claimed = study_claim_next(radiologist_id=owner.id, actor=Actor.system("test"))

    assert claimed is not None
    assert (claimed.study_ids, claimed.from_queue) == ([queued.id], True)


def test_read_next_on_the_queue_is_a_fixed_number_of_queries(
    reader, site_a, neuro, django_assert_max_num_queries
):
    queued = factories.ready_study(site_a, neuro, priority="STAT")
    Study.objects.filter(id=queued.id).update(status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=queued, radiologist=reader, kind=Assignment.Kind.PUSH, assigned_at=timezone.now()
    )
    study_claim_next(radiologist_id=reader.id, actor=Actor.system("test"))  # warms the scope
    from django.db import connection

    # PostgreSQL: the one statement (the scope is cached); SQLite: the ORM path's reads
    with django_assert_max_num_queries(1 if connection.vendor == "postgresql" else 16):
        claimed = study_claim_next(radiologist_id=reader.id, actor=Actor.system("test"))
    assert claimed is not None
    assert claimed.from_queue
