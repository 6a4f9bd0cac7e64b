"""worklists.StudyMilestones carry their study's grouping columns (site, modality, worklist,
priority, deadline, work units; migration 0027), kept by the database whoever changes the study
(save, update, bulk_update), so the indicators never join the study table; and the moves into
CANCELLED and REJECTED (0028), the volumes' milestones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests import factories
from tests.test_study_milestones import SYSTEM, actor_of, first_at, ordered_study
from worklists.models import Priority, Study, StudyEvent, StudyMilestones, StudyStatus
from worklists.services.claims import study_claim_next
from worklists.services.studies import (
    study_cancel,
    study_finalize,
    study_mark_ready,
    study_reject,
    study_start_reading,
)

COPIED = ("site_id", "modality", "worklist_id", "priority", "deadline", "work_units")
BEFORE_GROUPING = [("worklists", "0026_study_event_low_value_flag")]
BEFORE_ENDS = [("worklists", "0027_study_milestones_grouping")]


def copied_of(study_id: int) -> tuple:
    return StudyMilestones.objects.values_list(*COPIED).get(study_id=study_id)


def study_columns(study_id: int) -> tuple:
    return Study.objects.values_list(*COPIED).get(id=study_id)


def every_row_follows_its_study() -> None:
    kept = {row[0]: row[1:] for row in StudyMilestones.objects.values_list("study_id", *COPIED)}
    studies = {
        row[0]: row[1:] for row in Study.objects.filter(id__in=kept).values_list("id", *COPIED)
    }
    assert kept == studies


@pytest.mark.django_db
def test_a_milestone_row_takes_its_studys_columns_and_follows_every_change(
    site_a, site_b, neuro, owner
):
    factories.RuleFactory(worklist=neuro, modality="CT", body_part="HEAD")
    factories.shift(owner, worklists=(neuro,))
    study = ordered_study(site_a)
    # Inserted by the creating event's trigger: the study's columns as they are.
    assert copied_of(study.id) == study_columns(study.id)
    assert copied_of(study.id)[0] == site_a.id

    study_mark_ready(study_id=study.id, actor=SYSTEM)  # routed: worklist and deadline set
    assert study_claim_next(radiologist_id=owner.id, actor=actor_of(owner)) is not None
    study_start_reading(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    study_finalize(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    study.refresh_from_db()
    assert study.worklist_id == neuro.id
    assert copied_of(study.id) == study_columns(study.id)

    # save() of the whole row
    study.priority = Priority.STAT
    study.work_units = Decimal("2.50")
    study.save()
    assert copied_of(study.id)[3:] == (Priority.STAT, study_columns(study.id)[4], Decimal("2.50"))
    # update() in SQL, and bulk_update
    Study.objects.filter(id=study.id).update(site=site_b, worklist=None, modality="MR")
    assert copied_of(study.id) == study_columns(study.id)
    assert copied_of(study.id)[:3] == (site_b.id, "MR", None)
    study.refresh_from_db()
    study.deadline = timezone.now() + dt.timedelta(hours=3)
    Study.objects.bulk_update([study], ["deadline"])
    assert copied_of(study.id) == study_columns(study.id)
    # A change to another column writes nothing it should not.
    Study.objects.filter(id=study.id).update(procedure_text="Endret")
    assert copied_of(study.id) == study_columns(study.id)


def every_end_is_its_move() -> None:
    """Each row's cancelled_at and rejected_at: the moment of the study's move into the status
    (an event from another status), worked out from the events."""
    moves: dict[tuple[int, str], dt.datetime] = {}
    for event in StudyEvent.objects.filter(
        to_status__in=[StudyStatus.CANCELLED, StudyStatus.REJECTED]
    ).order_by("at", "id"):
        if event.from_status != event.to_status:
            moves.setdefault((event.study_id, event.to_status), event.at)
    for study_id, cancelled, rejected in StudyMilestones.objects.values_list(
        "study_id", "cancelled_at", "rejected_at"
    ):
        assert cancelled == moves.pop((study_id, StudyStatus.CANCELLED), None)
        assert rejected == moves.pop((study_id, StudyStatus.REJECTED), None)
    assert moves == {}  # no study with such a move lacks its row


@pytest.mark.django_db
def test_a_study_cancelled_midway_and_one_returned_have_their_move_as_milestone(
    site_a, neuro, owner
):
    factories.RuleFactory(worklist=neuro, modality="CT", body_part="HEAD")
    factories.shift(owner, worklists=(neuro,))
    cancelled = ordered_study(site_a, "M401")
    returned = ordered_study(site_a, "M402")
    for study in (cancelled, returned):
        study_mark_ready(study_id=study.id, actor=SYSTEM)
    study_cancel(study_id=cancelled.id, actor=SYSTEM, reason="patient did not come")
    study_reject(study_id=returned.id, actor=actor_of(owner), reason="not indicated")
    # An event that keeps the status (as a patient merge's) is no second move.
    StudyEvent.objects.create(
        study=cancelled,
        from_status=StudyStatus.CANCELLED,
        to_status=StudyStatus.CANCELLED,
        actor_label="merge",
        at=timezone.now() - dt.timedelta(days=1),
    )

    kept = StudyMilestones.objects.get(study=cancelled)
    assert kept.cancelled_at == first_at(cancelled, StudyStatus.CANCELLED, from_status="READY")
    assert kept.cancelled_at is not None
    assert kept.rejected_at is None
    assert kept.final_at is None
    assert StudyMilestones.objects.get(study=returned).rejected_at == first_at(
        returned, StudyStatus.REJECTED
    )
    every_end_is_its_move()


@pytest.mark.django_db
def test_the_demo_seeded_and_reset_keeps_every_rows_columns():
    call_command("seed_demo", "--studies", "40", stdout=StringIO())
    call_command("seed_demo", "--studies", "40", "--reset", stdout=StringIO())

    assert StudyMilestones.objects.count() >= 40
    every_row_follows_its_study()
    every_end_is_its_move()


def _migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_columns_of_the_rows_already_kept(site_a, neuro, owner):
    signed = factories.held_study(owner, site=site_a, worklist=neuro)
    study_start_reading(study_id=signed.id, radiologist_id=owner.id, actor=actor_of(owner))
    study_finalize(study_id=signed.id, radiologist_id=owner.id, actor=actor_of(owner))
    waiting = ordered_study(site_a, "M300")
    try:
        _migrate(BEFORE_GROUPING)
        columns = {
            c.name
            for c in connection.introspection.get_table_description(
                connection.cursor(), "worklists_studymilestones"
            )
        }
        assert "site_id" not in columns
        _migrate()
    finally:
        _migrate()

    assert copied_of(signed.id) == study_columns(signed.id)
    assert copied_of(waiting.id) == study_columns(waiting.id)
    # And the triggers came with the columns.
    Study.objects.filter(id=waiting.id).update(priority=Priority.URGENT)
    assert copied_of(waiting.id)[3] == Priority.URGENT


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_moves_into_cancelled_and_rejected_already_recorded(site_a):
    cancelled = ordered_study(site_a, "M501")
    study_mark_ready(study_id=cancelled.id, actor=SYSTEM)
    study_cancel(study_id=cancelled.id, actor=SYSTEM, reason="duplicate")
    returned = ordered_study(site_a, "M502")
    study_mark_ready(study_id=returned.id, actor=SYSTEM)
    study_reject(study_id=returned.id, actor=SYSTEM, reason="not indicated")
    try:
        _migrate(BEFORE_ENDS)
        _migrate()
    finally:
        _migrate()

    every_end_is_its_move()
    assert StudyMilestones.objects.get(study=cancelled).cancelled_at is not None
    # And the triggers follow new moves.
    later = ordered_study(site_a, "M503")
    study_cancel(study_id=later.id, actor=SYSTEM)
    every_end_is_its_move()
