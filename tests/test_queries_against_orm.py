"""Each hand-written statement in a queries module (worklists.queries, dicom.queries) gives the
same rows and effects as its ORM path on the same data. Both paths run on PostgreSQL
(worklists.queries.ORM_INSTEAD); SQLite runs the ORM path of the PostgreSQL-only statements in
every other test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from dicom.metadata import InstanceMeta
from dicom.models import DicomInstance, StudyImages
from dicom.services.associations import SiteContext
from dicom.services.instances import instance_receive
from tests import factories
from worklists import queries
from worklists.actors import Actor
from worklists.models import (
    Assignment,
    Radiologist,
    RoutingDecision,
    Study,
    StudyEvent,
    StudyStatus,
    Worklist,
)
from worklists.services.claims import study_claim_next
from worklists.services.routing import forget_coverage_cache
from worklists.services.surges import surge_start

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the hand-written SQL is PostgreSQL's"
    ),
]


class Rollback(Exception):
    """Undo one path's effects, so the other runs on the same data."""


def both_paths(statement: str, run: Callable[[], Any]) -> tuple[Any, Any]:
    """``run()``'s outcome with ``statement`` as SQL, then through the ORM, each on the same
    data (the first one's effects rolled back)."""
    outcomes = []
    for orm in (False, True):
        forget_coverage_cache()
        queries.ORM_INSTEAD = {statement} if orm else set()
        try:
            with transaction.atomic():
                outcomes.append(run())
                raise Rollback
        except Rollback:
            pass
        finally:
            queries.ORM_INSTEAD = set()
    forget_coverage_cache()
    return outcomes[0], outcomes[1]


@pytest.fixture
def no_caches() -> Iterator[None]:
    forget_coverage_cache()
    yield
    forget_coverage_cache()


def claim_effects(reader: Radiologist) -> Callable[[], dict[str, Any]]:
    """Read next for ``reader``, and what it changed: its answer, the studies' statuses, the
    active assignments, the events and decisions written (timestamps aside: each path reads the
    clock itself), and whether the reader was marked active."""

    def run() -> dict[str, Any]:
        events_before = StudyEvent.objects.order_by("-id").values_list("id", flat=True).first()
        actor = Actor(user_id=reader.user_id, label="reader")
        claimed = study_claim_next(radiologist_id=reader.id, actor=actor)
        return {
            "claimed": None if claimed is None else (claimed.study_ids, claimed.from_queue),
            "statuses": dict(Study.objects.values_list("id", "status")),
            "assignments": sorted(
                Assignment.objects.filter(ended_at__isnull=True).values_list(
                    "study_id", "radiologist_id", "kind", "assigned_by_id", "reason", "end_reason"
                )
            ),
            "claim_times_agree": all(
                a.assigned_at == a.last_activity_at == a.study.status_changed_at
                for a in Assignment.objects.filter(kind=Assignment.Kind.PULL).select_related(
                    "study"
                )
            ),
            "events": sorted(
                StudyEvent.objects.filter(id__gt=events_before or 0).values_list(
                    "study_id",
                    "from_status",
                    "to_status",
                    "actor_id",
                    "actor_label",
                    "reason",
                    "data",
                )
            ),
            "decisions": sorted(
                RoutingDecision.objects.values_list(
                    "study_id", "mode", "trigger", "tier", "radiologist_id", "trace"
                )
            ),
            "marked_active": Radiologist.objects.get(id=reader.id).last_active_at is not None,
        }

    return run


@pytest.fixture
def reader(owner: Radiologist, neuro: Worklist, no_caches: None) -> Radiologist:
    factories.shift(owner, worklists=(neuro,))
    return owner


def _queue(study: Study, reader: Radiologist) -> None:
    Study.objects.filter(id=study.id).update(status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=study, radiologist=reader, kind=Assignment.Kind.PUSH, assigned_at=timezone.now()
    )


def test_the_claim_statement_claims_what_the_orm_claims_with_the_same_bundle_and_events(
    reader, site_a, site_b, neuro
):
    now = timezone.now()
    patient = factories.PatientFactory()
    first = factories.ready_study(
        site_a, neuro, priority="URGENT", patient=patient, deadline=now + dt.timedelta(hours=2)
    )
    same_patient = factories.ready_study(site_a, neuro, patient=patient)
    factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=1))
    factories.ready_study(site_b, neuro, priority="STAT")  # no credential there
    factories.ready_study(site_a, neuro, priority="STAT", modality="XA")  # a modality not read
    _queue(factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=30)), reader)

    sql, orm = both_paths("claim", claim_effects(reader))

    assert sql == orm
    assert sql["claimed"] == ([first.id, same_patient.id], False)
    assert sql["claim_times_agree"]
    assert sql["marked_active"]


def test_the_claim_statement_picks_the_queued_study_the_orm_picks(reader, site_a, neuro):
    now = timezone.now()
    factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(minutes=5))
    stat = factories.ready_study(
        site_a, neuro, priority="STAT", deadline=now + dt.timedelta(minutes=50)
    )
    _queue(stat, reader)

    sql, orm = both_paths("claim", claim_effects(reader))

    assert sql == orm
    assert sql["claimed"] == ([stat.id], True)
    assert [d[:3] for d in sql["decisions"]] == [
        (stat.id, RoutingDecision.Mode.PULL, queries.QUEUE_TRIGGER)
    ]


def test_the_claim_statement_finds_nothing_where_the_orm_finds_nothing(reader, site_b, neuro):
    factories.ready_study(site_b, neuro)  # not the reader's site

    sql, orm = both_paths("claim", claim_effects(reader))

    assert sql == orm
    assert sql["claimed"] is None


def test_the_claim_statement_honours_the_surges_running_as_the_orm_does(
    site_a, neuro, coordinator, no_caches
):
    """A backup reader of neuro, on shift for neuro and for MSK, where they read as a primary
    reader elsewhere: neuro is surged to backup readers, every worklist was surged to every
    competent reader until a minute ago, and chest (no shift for it) is surged to every
    competent reader now. The first study in reading order each path may take is chest's: the
    abdomen study before it (a worklist they read, but have no shift for) only the surge of
    every worklist allowed, and its time has passed."""
    now = timezone.now()
    msk = factories.WorklistFactory(code="msk")
    chest = factories.WorklistFactory(code="chest")
    abdomen = factories.WorklistFactory(code="abdomen")
    backup = factories.RadiologistFactory(user__username="backup")
    factories.credential(backup, site_a)
    factories.competence(backup, neuro, level="BACKUP")
    factories.competence(backup, chest)
    factories.competence(backup, abdomen)
    factories.shift(backup, worklists=(neuro, msk))
    boss = Actor.for_user(coordinator)
    for worklist, tier, started, ends in (
        (neuro, 1, now, now + dt.timedelta(hours=1)),
        (None, 2, now - dt.timedelta(hours=2), now - dt.timedelta(minutes=1)),
        (chest, 2, now, now + dt.timedelta(hours=1)),
    ):
        surge_start(
            actor=boss,
            worklist_id=worklist.id if worklist else None,
            tier=tier,
            reason="backlog",
            ends_at=ends,
            now=started,
        )
    neuro_study = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=3))
    chest_study = factories.ready_study(site_a, chest, deadline=now + dt.timedelta(hours=2))
    abdomen_study = factories.ready_study(site_a, abdomen, deadline=now + dt.timedelta(hours=1))

    sql, orm = both_paths("claim", claim_effects(backup))

    assert sql == orm
    assert sql["claimed"] == ([chest_study.id], False)
    # taken at the surge's tier, though the study's own is 0
    assert [e[-1]["tier"] for e in sql["events"]] == [2]
    assert sql["statuses"][neuro_study.id] == sql["statuses"][abdomen_study.id] == "READY"


def _meta(study: int, instance: int, series: int = 1) -> InstanceMeta:
    uid = f"1.2.826.0.1.3680043.10.77.{study}"
    return InstanceMeta(
        study_instance_uid=uid,
        series_instance_uid=f"{uid}.{series}",
        sop_instance_uid=f"{uid}.{series}.{instance}",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        accession_number=f"QDCM{study}",
        modality="CT",
        patient_id="Q1",
        issuer_of_patient_id="QISSUER",
        family_name="Spørje",
        given_name="Kari",
        birth_date=dt.date(1960, 1, 1),
        sex="F",
        study_date=None,
        study_time=None,
        study_description="CT caput",
        series_description="Aksial",
        series_number=series,
        body_part="HEAD",
        institution="Spørjesjukehus",
        procedure_codes=(),
        modalities_in_study=("CT",),
    )


@pytest.mark.parametrize("ready_before_the_last", [False, True])
def test_the_dicom_fast_path_records_instances_as_the_orm_path_does(
    site_a, general_worklist, ready_before_the_last
):
    context = SiteContext(
        site_id=site_a.id, site_code=site_a.code, calling_ae_title="QMOD", peer_address="x"
    )
    start = timezone.now()

    def run() -> dict[str, Any]:
        results = []
        # the first instance makes the study (the ORM path on both sides), then the same
        # series, the same instance again, a second series (the ORM path again) and its next
        for n, meta in enumerate(
            [_meta(1, 1), _meta(1, 2), _meta(1, 3), _meta(1, 2), _meta(1, 4, series=2)]
        ):
            at = start + dt.timedelta(seconds=n)
            results.append(instance_receive(context=context, meta=meta, received_at=at))
        if ready_before_the_last:
            Study.objects.filter(accession_number="QDCM1").update(ready_at=start)
            StudyImages.objects.update(complete=True, completed_at=start)
        at = start + dt.timedelta(seconds=9)
        results.append(instance_receive(context=context, meta=_meta(1, 5), received_at=at))
        return {
            "results": [(r.outcome, r.late, r.created_study) for r in results],
            "images": list(
                StudyImages.objects.values_list(
                    "study__accession_number",
                    "instance_count",
                    "series_count",
                    "late_instance_count",
                    "last_instance_at",
                    "last_late_at",
                    "complete",
                    "completed_at",
                    "modalities",
                )
            ),
            "instances": sorted(
                DicomInstance.objects.values_list(
                    "sop_instance_uid",
                    "series__series_instance_uid",
                    "is_late",
                    "calling_ae_title",
                    "received_at",
                    "storage_path",
                )
            ),
        }

    fast, orm = both_paths("dicom_fast_path", run)

    assert fast == orm
    assert [outcome for outcome, _late, _created in fast["results"]] == [
        "stored",
        "stored",
        "stored",
        "duplicate",
        "stored",
        "stored",
    ]
    assert fast["images"][0][1] == 5
    assert fast["results"][-1][1] is ready_before_the_last
