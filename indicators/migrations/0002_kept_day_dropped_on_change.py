"""A change to a milestone row signed final on a kept day drops that KeptDay, in the statement
that makes the change (a row trigger on worklists_studymilestones, both databases): the day's
figures come from its milestone rows again until indicators.rollup.keep_day counts it anew
(docs/indicators.md, "Closed days kept").

The columns the kept counts read (READ): a change to any other (the modality, the cancellation or
return of a study not signed) leaves the day kept. On PostgreSQL the trigger first takes a
shared lock on the row's UTC day (pg_advisory_xact_lock_shared(1717, day),
indicators.rollup.DAY_LOCKS): keep_day tries the same locks exclusively before it counts and
gives the day up if one is held, so a change is either counted by it or drops what it wrote,
never neither. Shared locks do not wait for each other, and a day is kept only once its UTC
days are over: writers of today's rows never wait.
"""

from django.db import migrations

TABLE = "worklists_studymilestones"
KEPT = "indicators_keptday"
READ = (
    "final_at",
    "ordered_at",
    "first_ready_at",
    "first_opened_at",
    "first_preliminary_at",
    "site_id",
    "priority",
    "deadline",
    "worklist_id",
    "signed_by_id",
    "work_units",
)
OLD_READ = ", ".join(f"OLD.{c}" for c in READ)
NEW_READ = ", ".join(f"NEW.{c}" for c in READ)

PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION indicators_drop_kept_day(moment timestamptz) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock_shared(1717, floor(extract(epoch FROM moment) / 86400)::int);
        DELETE FROM {KEPT} WHERE starts_at <= moment AND moment < ends_at;
    END
    $$""",
    f"""CREATE OR REPLACE FUNCTION indicators_milestone_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.final_at IS NOT NULL THEN
            PERFORM indicators_drop_kept_day(OLD.final_at);
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.final_at IS NOT NULL
           AND (TG_OP = 'INSERT' OR NEW.final_at IS DISTINCT FROM OLD.final_at) THEN
            PERFORM indicators_drop_kept_day(NEW.final_at);
        END IF;
        RETURN NULL;
    END
    $$""",
    f"""CREATE TRIGGER indicators_kept_day_inserted AFTER INSERT ON {TABLE}
    FOR EACH ROW WHEN (NEW.final_at IS NOT NULL)
    EXECUTE FUNCTION indicators_milestone_changed()""",
    f"""CREATE TRIGGER indicators_kept_day_updated AFTER UPDATE ON {TABLE}
    FOR EACH ROW
    WHEN ((OLD.final_at IS NOT NULL OR NEW.final_at IS NOT NULL)
          AND ({OLD_READ}) IS DISTINCT FROM ({NEW_READ}))
    EXECUTE FUNCTION indicators_milestone_changed()""",
    f"""CREATE TRIGGER indicators_kept_day_deleted AFTER DELETE ON {TABLE}
    FOR EACH ROW WHEN (OLD.final_at IS NOT NULL)
    EXECUTE FUNCTION indicators_milestone_changed()""",
]
PG_BACKWARD = [
    f"DROP TRIGGER IF EXISTS indicators_kept_day_deleted ON {TABLE}",
    f"DROP TRIGGER IF EXISTS indicators_kept_day_updated ON {TABLE}",
    f"DROP TRIGGER IF EXISTS indicators_kept_day_inserted ON {TABLE}",
    "DROP FUNCTION IF EXISTS indicators_milestone_changed()",
    "DROP FUNCTION IF EXISTS indicators_drop_kept_day(timestamptz)",
]


def _drop(moment: str) -> str:
    return f"DELETE FROM {KEPT} WHERE starts_at <= {moment} AND {moment} < ends_at;"


SQLITE_FORWARD = [
    f"""CREATE TRIGGER indicators_kept_day_inserted AFTER INSERT ON {TABLE}
    WHEN NEW.final_at IS NOT NULL
    BEGIN
        {_drop("NEW.final_at")}
    END""",
    f"""CREATE TRIGGER indicators_kept_day_updated AFTER UPDATE ON {TABLE}
    WHEN (OLD.final_at IS NOT NULL OR NEW.final_at IS NOT NULL)
         AND ({" OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in READ)})
    BEGIN
        {_drop("OLD.final_at")}
        {_drop("NEW.final_at")}
    END""",
    f"""CREATE TRIGGER indicators_kept_day_deleted AFTER DELETE ON {TABLE}
    WHEN OLD.final_at IS NOT NULL
    BEGIN
        {_drop("OLD.final_at")}
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS indicators_kept_day_deleted",
    "DROP TRIGGER IF EXISTS indicators_kept_day_updated",
    "DROP TRIGGER IF EXISTS indicators_kept_day_inserted",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = PG_FORWARD
    elif vendor == "sqlite":
        statements = SQLITE_FORWARD
    else:
        raise NotImplementedError(f"kept days on {vendor}")
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = PG_BACKWARD if vendor == "postgresql" else SQLITE_BACKWARD
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("indicators", "0001_kept_days"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
