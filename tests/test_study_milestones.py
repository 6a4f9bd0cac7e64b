"""worklists.StudyMilestones: kept by the database from the study's events, whoever writes them
(the services, the claim statement, SQL, bulk updates), the first event into a status counting;
filled from the events already recorded by its migration (0024)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests import factories
from worklists.actors import Actor
from worklists.models import Study, StudyEvent, StudyMilestones, StudyStatus
from worklists.services.claims import study_claim_next
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
    order_apply,
)
from worklists.services.routing import forget_coverage_cache
from worklists.services.studies import (
    study_finalize,
    study_issue_preliminary,
    study_mark_ready,
    study_reassign,
    study_start_reading,
    study_unassign,
)
from worklists.services.transitions import record_event

S = StudyStatus
SYSTEM = Actor.system("test")
BEFORE_MILESTONES = [("worklists", "0023_surge")]


@pytest.fixture(autouse=True)
def _fresh_coverage():
    forget_coverage_cache()


def actor_of(rad) -> Actor:
    return Actor(user_id=rad.user_id, label=rad.user.username)


def first_at(study: Study, to_status: str, **extra) -> dt.datetime | None:
    """The study's first event into ``to_status``, read from its events."""
    event = StudyEvent.objects.filter(study=study, to_status=to_status, **extra).order_by("at")
    return event.values_list("at", flat=True).first()


def milestones_of(study: Study) -> StudyMilestones:
    return StudyMilestones.objects.get(study=study)


def ordered_study(site, accession: str = "M100") -> Study:
    """A study created by an order received through the order service (its creating event)."""
    return order_apply(
        site_id=site.id,
        order=OrderInput(
            accession_number=accession,
            action=OrderAction.NEW,
            patient=PatientInput(
                identifiers=(IdentifierInput(kind="FNR", value=factories.synthetic_fnr()),),
                family_name="Ødegård",
                given_name="Åse",
            ),
            study=StudyInput(
                modality="CT",
                body_part="HEAD",
                procedure_text="CT caput uten kontrast",
                ordered_at=timezone.now(),
            ),
        ),
        actor=Actor.for_site(site.code),
    ).study


@pytest.mark.django_db
def test_each_milestone_is_the_first_event_the_services_wrote_into_its_status(site_a, neuro, owner):
    factories.RuleFactory(worklist=neuro, modality="CT", body_part="HEAD")
    factories.shift(owner, worklists=(neuro,))
    study = ordered_study(site_a)
    assert milestones_of(study).ordered_at == first_at(study, S.ORDERED, from_status="")
    assert milestones_of(study).first_ready_at is None

    study_mark_ready(study_id=study.id, actor=SYSTEM)
    # Read next: on PostgreSQL the hand-written claim statement inserts the event in SQL, on
    # SQLite the ORM does. A claim (ASSIGNED) is no milestone: the row stays as it was.
    before_claim = milestones_of(study)
    claimed = study_claim_next(radiologist_id=owner.id, actor=actor_of(owner))
    assert claimed is not None
    assert claimed.study_ids == [study.id]
    assert StudyEvent.objects.filter(study=study, to_status=S.ASSIGNED).count() == 1
    after_claim = milestones_of(study)
    assert after_claim.first_ready_at == first_at(study, S.READY)
    assert after_claim.first_ready_at is not None
    assert [after_claim.first_opened_at, after_claim.final_at] == [None, None]
    assert after_claim.ordered_at == before_claim.ordered_at

    study_start_reading(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    study_issue_preliminary(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    study_finalize(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))

    kept = milestones_of(study)
    assert kept.ordered_at == first_at(study, S.ORDERED, from_status="")
    assert kept.first_ready_at == first_at(study, S.READY)
    assert kept.first_opened_at == first_at(study, S.IN_PROGRESS)
    assert kept.first_preliminary_at == first_at(study, S.PRELIMINARY)
    assert kept.final_at == first_at(study, S.FINAL)
    assert kept.signed_by_id == owner.user_id
    assert (
        kept.ordered_at
        < kept.first_ready_at
        < kept.first_opened_at
        < kept.first_preliminary_at
        < kept.final_at
    )


@pytest.mark.django_db
def test_a_second_opening_after_a_reassignment_or_a_return_to_the_pool_moves_nothing(
    site_a, neuro, owner, other_radiologist, coordinator
):
    study = factories.held_study(owner, site=site_a, worklist=neuro)
    study_start_reading(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    first_opened = first_at(study, S.IN_PROGRESS)
    first_ready = first_at(study, S.READY)

    by_coordinator = Actor(user_id=coordinator.id, label=coordinator.username)
    study_reassign(
        study_id=study.id,
        radiologist_id=other_radiologist.id,
        actor=by_coordinator,
        reason="owner went home",
    )
    study_start_reading(
        study_id=study.id, radiologist_id=other_radiologist.id, actor=actor_of(other_radiologist)
    )
    study_unassign(study_id=study.id, actor=by_coordinator, reason="back to the pool")

    assert StudyEvent.objects.filter(study=study, to_status=S.IN_PROGRESS).count() == 2
    assert StudyEvent.objects.filter(study=study, to_status=S.READY).count() == 2
    kept = milestones_of(study)
    assert (kept.first_opened_at, kept.first_ready_at) == (first_opened, first_ready)


@pytest.mark.django_db
def test_an_event_that_keeps_a_final_study_final_is_no_second_signature(
    site_a, neuro, owner, other_radiologist
):
    study = factories.held_study(owner, site=site_a, worklist=neuro)
    study_start_reading(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    study_finalize(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    study.refresh_from_db()
    signed_at = first_at(study, S.FINAL)

    record_event(
        study=study,
        actor=actor_of(other_radiologist),
        at=timezone.now() + dt.timedelta(minutes=5),
        reason="patient merged",
        data={},
    )

    assert StudyEvent.objects.filter(study=study, to_status=S.FINAL).count() == 2
    kept = milestones_of(study)
    assert (kept.final_at, kept.signed_by_id) == (signed_at, owner.user_id)


@pytest.mark.django_db
def test_an_earlier_event_written_in_sql_becomes_the_first(site_a, neuro, owner):
    study = factories.held_study(owner, site=site_a, worklist=neuro)
    ready = first_at(study, S.READY)
    earlier = ready - dt.timedelta(hours=1)
    later = ready + dt.timedelta(hours=1)

    with connection.cursor() as cursor:
        for at in (later, earlier):
            cursor.execute(
                "INSERT INTO worklists_studyevent (study_id, from_status, to_status, actor_id, "
                "actor_label, at, reason, data) VALUES (%s, 'ASSIGNED', 'READY', NULL, 'sql', "
                "%s, 'by hand', '{}')",
                [study.id, at],
            )

    assert milestones_of(study).first_ready_at == earlier


@pytest.mark.django_db
def test_events_moved_in_bulk_or_deleted_are_counted_again(site_a, neuro, owner):
    """The demo backdates its history with bulk_update; a bench resets studies by deleting
    their events."""
    study = factories.held_study(owner, site=site_a, worklist=neuro)
    study_start_reading(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    study_finalize(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    events = list(StudyEvent.objects.filter(study=study))
    past = timezone.now() - dt.timedelta(days=3)
    for index, event in enumerate(sorted(events, key=lambda e: e.id)):
        event.at = past + dt.timedelta(minutes=10 * index)
    StudyEvent.objects.bulk_update(events, ["at"])

    kept = milestones_of(study)
    assert kept.first_ready_at == first_at(study, S.READY)
    assert kept.final_at == first_at(study, S.FINAL)
    assert kept.final_at < past + dt.timedelta(hours=1)

    StudyEvent.objects.filter(study=study, to_status=S.FINAL).delete()
    kept = milestones_of(study)
    assert (kept.final_at, kept.signed_by_id) == (None, None)
    assert kept.first_opened_at == first_at(study, S.IN_PROGRESS)


@pytest.mark.django_db
def test_a_study_deleted_with_its_events_leaves_no_milestones(site_a, neuro, owner):
    study = factories.held_study(owner, site=site_a, worklist=neuro)
    assert StudyMilestones.objects.filter(study=study).exists()

    Study.objects.filter(id=study.id).delete()

    assert not StudyMilestones.objects.filter(study_id=study.id).exists()


def expected_milestones() -> dict[int, tuple]:
    """Every study's milestones worked out in Python from all its events."""
    found: dict[int, dict[str, object]] = {}
    columns: dict[str, str] = {
        S.READY: "first_ready_at",
        S.IN_PROGRESS: "first_opened_at",
        S.PRELIMINARY: "first_preliminary_at",
        S.FINAL: "final_at",
    }
    for event in StudyEvent.objects.order_by("at", "id"):
        if event.to_status not in (S.ORDERED, *columns):
            continue
        row = found.setdefault(event.study_id, {})
        if event.to_status == S.ORDERED:
            if event.from_status == "":
                row.setdefault("ordered_at", event.at)
            continue
        if columns[event.to_status] not in row and event.to_status == S.FINAL:
            row["signed_by_id"] = event.actor_id
        row.setdefault(columns[event.to_status], event.at)
    names = ["ordered_at", *columns.values(), "signed_by_id"]
    return {study: tuple(row.get(n) for n in names) for study, row in found.items()}


@pytest.mark.django_db
def test_the_demo_seeded_backdated_and_reset_keeps_every_studys_milestones():
    """seed_demo runs the services, then moves every event back to its planned past in bulk;
    --reset deletes studies with their events and seeds new ones."""
    call_command("seed_demo", "--studies", "40", stdout=StringIO())
    call_command("seed_demo", "--studies", "40", "--reset", stdout=StringIO())

    expected = expected_milestones()
    kept = {
        row[0]: row[1:]
        for row in StudyMilestones.objects.values_list(
            "study_id",
            "ordered_at",
            "first_ready_at",
            "first_opened_at",
            "first_preliminary_at",
            "final_at",
            "signed_by_id",
        )
    }
    assert len(expected) >= 40
    assert any(row[4] is not None for row in expected.values())  # some were signed
    assert kept == expected


def _migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_milestones_from_the_events_already_recorded(
    site_a, neuro, owner, other_radiologist, coordinator
):
    # The events, written by today's services (they need today's schema)...
    signed = factories.held_study(owner, site=site_a, worklist=neuro)
    study_start_reading(study_id=signed.id, radiologist_id=owner.id, actor=actor_of(owner))
    study_reassign(
        study_id=signed.id,
        radiologist_id=other_radiologist.id,
        actor=Actor(user_id=coordinator.id, label=coordinator.username),
        reason="owner went home",
    )
    other = actor_of(other_radiologist)
    study_start_reading(study_id=signed.id, radiologist_id=other_radiologist.id, actor=other)
    study_finalize(study_id=signed.id, radiologist_id=other_radiologist.id, actor=other)
    waiting = ordered_study(site_a, "M200")
    try:
        # ...then back before the milestones (no table, no trigger: the events alone stay),
        # and forward: the migration fills the table from them.
        _migrate(BEFORE_MILESTONES)
        assert "worklists_studymilestones" not in connection.introspection.table_names()
        _migrate()
    finally:
        _migrate()

    kept = milestones_of(signed)
    assert kept.ordered_at is None  # made by the factory: no creating event
    assert kept.first_ready_at == first_at(signed, S.READY)
    assert kept.first_opened_at == first_at(signed, S.IN_PROGRESS)
    assert (
        kept.first_opened_at
        < StudyEvent.objects.filter(study=signed, to_status=S.IN_PROGRESS).latest("at").at
    )
    assert kept.final_at == first_at(signed, S.FINAL)
    assert kept.signed_by_id == other_radiologist.user_id
    assert kept.first_preliminary_at is None
    only_ordered = milestones_of(waiting)
    assert only_ordered.ordered_at == first_at(waiting, S.ORDERED, from_status="")
    assert only_ordered.final_at is None
    # And the triggers came back with the table: a new event is followed.
    study_mark_ready(study_id=waiting.id, actor=SYSTEM)
    assert milestones_of(waiting).first_ready_at == first_at(waiting, S.READY)
