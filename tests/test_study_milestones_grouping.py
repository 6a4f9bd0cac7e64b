"""worklists.StudyMilestones carry their study's grouping columns (site, modality, worklist,
priority, deadline, work units; migration 0027), kept by the database whoever changes the study
(save, update, bulk_update), so the indicators never join the study table."""

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
from tests.test_study_milestones import SYSTEM, actor_of, ordered_study
from worklists.models import Priority, Study, StudyMilestones
from worklists.services.claims import study_claim_next
from worklists.services.studies import study_finalize, study_mark_ready, study_start_reading

COPIED = ("site_id", "modality", "worklist_id", "priority", "deadline", "work_units")
BEFORE_GROUPING = [("worklists", "0026_study_event_low_value_flag")]


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


@pytest.mark.django_db
def test_the_demo_seeded_and_reset_keeps_every_rows_columns():
    call_command("seed_demo", "--studies", "40", stdout=StringIO())
    call_command("seed_demo", "--studies", "40", "--reset", stdout=StringIO())

    assert StudyMilestones.objects.count() >= 40
    every_row_follows_its_study()


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
