"""StudyMilestones carry their study's grouping columns (site, modality, worklist, priority,
deadline, work units), so the indicators' statements read the period's milestone rows alone and
never join the whole study table (docs/indicators.md, "Speed": that join's scan of every study
ever recorded was most of a page load at 1,000,000 studies).

Kept by the database, as the milestones themselves (0024), whichever writer touches a study:
- a milestone row takes the columns from its study as it is inserted (by the events' triggers);
- an UPDATE of one of the columns on a study rewrites them on its milestone row (a row trigger,
  only when a value really changed: Django's save() names every column).
Lock order: the study's row, then its milestone row, as an event's insert after a study's change.

Expand and backfill here; nothing to contract (the study keeps its columns, the copy follows).
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "worklists_studymilestones"
STUDIES = "worklists_study"
COPIED = ("site_id", "modality", "worklist_id", "priority", "deadline", "work_units")
LIST = ", ".join(COPIED)

PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION worklists_study_milestones_grouping() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        SELECT {", ".join(f"s.{c}" for c in COPIED)}
        INTO {", ".join(f"NEW.{c}" for c in COPIED)}
        FROM {STUDIES} s WHERE s.id = NEW.study_id;
        RETURN NEW;
    END
    $$""",
    f"""CREATE TRIGGER study_milestones_grouping BEFORE INSERT ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION worklists_study_milestones_grouping()""",
    f"""CREATE OR REPLACE FUNCTION worklists_study_milestones_regrouped() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {TABLE} SET {", ".join(f"{c} = NEW.{c}" for c in COPIED)}
        WHERE study_id = NEW.id;
        RETURN NULL;
    END
    $$""",
    f"""CREATE TRIGGER study_milestones_regrouped AFTER UPDATE OF {LIST} ON {STUDIES}
    FOR EACH ROW
    WHEN (({", ".join(f"OLD.{c}" for c in COPIED)}) IS DISTINCT FROM
          ({", ".join(f"NEW.{c}" for c in COPIED)}))
    EXECUTE FUNCTION worklists_study_milestones_regrouped()""",
]
PG_BACKFILL = f"""
UPDATE {TABLE} AS m SET {", ".join(f"{c} = s.{c}" for c in COPIED)}
FROM {STUDIES} s WHERE s.id = m.study_id
"""
PG_BACKWARD = [
    f"DROP TRIGGER IF EXISTS study_milestones_regrouped ON {STUDIES}",
    f"DROP TRIGGER IF EXISTS study_milestones_grouping ON {TABLE}",
    "DROP FUNCTION IF EXISTS worklists_study_milestones_regrouped()",
    "DROP FUNCTION IF EXISTS worklists_study_milestones_grouping()",
]

SQLITE_COPY = f"""UPDATE {TABLE} SET ({LIST}) =
            (SELECT {LIST} FROM {STUDIES} WHERE id = {{study}})
        WHERE study_id = {{study}}"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER study_milestones_grouping AFTER INSERT ON {TABLE}
    BEGIN
        {SQLITE_COPY.format(study="NEW.study_id")};
    END""",
    f"""CREATE TRIGGER study_milestones_regrouped AFTER UPDATE OF {LIST} ON {STUDIES}
    WHEN {" OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COPIED)}
    BEGIN
        UPDATE {TABLE} SET {", ".join(f"{c} = NEW.{c}" for c in COPIED)}
        WHERE study_id = NEW.id;
    END""",
]
SQLITE_BACKFILL = f"""UPDATE {TABLE} SET ({LIST}) =
    (SELECT {LIST} FROM {STUDIES} s WHERE s.id = {TABLE}.study_id)"""
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS study_milestones_regrouped",
    "DROP TRIGGER IF EXISTS study_milestones_grouping",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [*PG_FORWARD, PG_BACKFILL]
    elif vendor == "sqlite":
        statements = [*SQLITE_FORWARD, SQLITE_BACKFILL]
    else:
        raise NotImplementedError(f"study milestones on {vendor}")
    # The triggers first, in this transaction, as in 0024: a row written while the backfill
    # runs is either in it or written after it, through the triggers.
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = PG_BACKWARD if vendor == "postgresql" else SQLITE_BACKWARD
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('worklists', '0026_study_event_low_value_flag'),
    ]

    operations = [
        migrations.AddField(
            model_name='studymilestones',
            name='deadline',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='studymilestones',
            name='modality',
            field=models.CharField(blank=True, max_length=4, null=True),
        ),
        migrations.AddField(
            model_name='studymilestones',
            name='priority',
            field=models.CharField(blank=True, max_length=20, null=True),
        ),
        migrations.AddField(
            model_name='studymilestones',
            name='site',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='worklists.site'),
        ),
        migrations.AddField(
            model_name='studymilestones',
            name='work_units',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=5, null=True),
        ),
        migrations.AddField(
            model_name='studymilestones',
            name='worklist',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='worklists.worklist'),
        ),
        migrations.RunPython(forward, backward),
    ]
