"""StudyMilestones: also the move into CANCELLED and into REJECTED (the referral returned), so
the indicators' volumes are counted from the milestone rows (which carry the study's grouping
columns, 0027) and not from the period's events joined to the whole study table
(docs/indicators.md, "Speed"). Both statuses are terminal (worklists/lifecycle.py): a study
moves into each at most once, so "the first move into it" is "the move into it".

The trigger functions of 0024 (PostgreSQL) are replaced with the longer list of milestones,
their triggers stay; SQLite's row triggers are made again. The code that writes them is 0024's,
copied (a migration does not change when a later one does), with the two milestones added.
"""

import importlib

from django.db import migrations, models

TRACKED = "('ORDERED', 'READY', 'IN_PROGRESS', 'PRELIMINARY', 'FINAL', 'CANCELLED', 'REJECTED')"
# (column, the condition on an event that makes it this milestone)
MILESTONES = [
    ("ordered_at", "from_status = '' AND to_status = 'ORDERED'"),
    ("first_ready_at", "to_status = 'READY'"),
    ("first_opened_at", "to_status = 'IN_PROGRESS'"),
    ("first_preliminary_at", "to_status = 'PRELIMINARY'"),
    ("final_at", "to_status = 'FINAL'"),
    # Terminal statuses: the move into them (an event that keeps the status is none).
    ("cancelled_at", "to_status = 'CANCELLED' AND from_status <> 'CANCELLED'"),
    ("rejected_at", "to_status = 'REJECTED' AND from_status <> 'REJECTED'"),
]
COLUMNS = ", ".join(["study_id", *(c for c, _ in MILESTONES), "signed_by_id"])
TABLE = "worklists_studymilestones"
EVENTS = "worklists_studyevent"


def _qualified(cond: str, alias: str) -> str:
    return cond.replace("from_status", f"{alias}.from_status").replace(
        "to_status", f"{alias}.to_status"
    )


def _pg_aggregates(alias: str) -> str:
    firsts = [
        f"min({alias}.at) FILTER (WHERE {_qualified(cond, alias)}) AS {column}"
        for column, cond in MILESTONES
    ]
    signer = (
        f"(array_agg({alias}.actor_id ORDER BY {alias}.at, {alias}.id) "
        f"FILTER (WHERE {alias}.to_status = 'FINAL'))[1] AS signed_by_id"
    )
    return ",\n        ".join([*firsts, signer])


PG_ADDED = f"""
CREATE OR REPLACE FUNCTION worklists_study_milestones_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- in study order, so two statements lock their studies' rows in the same order
    INSERT INTO {TABLE} AS kept ({COLUMNS})
    SELECT e.study_id,
        {_pg_aggregates("e")}
    FROM new_events e WHERE e.to_status IN {TRACKED}
    GROUP BY e.study_id ORDER BY e.study_id
    ON CONFLICT (study_id) DO UPDATE SET
        {", ".join(f"{c} = LEAST(kept.{c}, EXCLUDED.{c})" for c, _ in MILESTONES)},
        signed_by_id = CASE WHEN kept.final_at IS NULL OR EXCLUDED.final_at < kept.final_at
            THEN EXCLUDED.signed_by_id ELSE kept.signed_by_id END
    -- a later event into a status already reached changes nothing: no row written
    WHERE ({", ".join(f"kept.{c}" for c, _ in MILESTONES)}) IS DISTINCT FROM
        ({", ".join(f"LEAST(kept.{c}, EXCLUDED.{c})" for c, _ in MILESTONES)});
    RETURN NULL;
END
$$;
"""

PG_CHANGED_EVENTS = """
        SELECT {side}.study_id FROM old_events o JOIN new_events n USING (id)
        WHERE (o.study_id, o.from_status, o.to_status, o.at, o.actor_id)
            IS DISTINCT FROM (n.study_id, n.from_status, n.to_status, n.at, n.actor_id)"""

PG_RECOUNTED = f"""
CREATE OR REPLACE FUNCTION worklists_study_milestones_recounted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        touched := ARRAY(SELECT DISTINCT study_id FROM old_events ORDER BY 1);
    ELSE
        touched := ARRAY({PG_CHANGED_EVENTS.format(side="o")}
        UNION{PG_CHANGED_EVENTS.format(side="n")}
        ORDER BY 1);
        -- an event moved into a tracked status, or to another study, may start a row
        INSERT INTO {TABLE} (study_id)
        SELECT DISTINCT study_id FROM new_events
        WHERE study_id = ANY(touched) AND to_status IN {TRACKED} ORDER BY 1
        ON CONFLICT (study_id) DO NOTHING;
    END IF;
    IF cardinality(touched) = 0 THEN
        RETURN NULL;
    END IF;
    UPDATE {TABLE} AS kept SET
        {", ".join(f"{c} = counted.{c}" for c, _ in MILESTONES)},
        signed_by_id = counted.signed_by_id
    FROM (
        SELECT t.study_id,
            {_pg_aggregates("e")}
        FROM unnest(touched) AS t(study_id)
        LEFT JOIN {EVENTS} e ON e.study_id = t.study_id AND e.to_status IN {TRACKED}
        GROUP BY t.study_id
    ) AS counted
    WHERE kept.study_id = counted.study_id;
    RETURN NULL;
END
$$;
"""

NEW_COLUMNS = ("cancelled_at", "rejected_at")
PG_BACKFILL = f"""
INSERT INTO {TABLE} AS kept ({COLUMNS})
SELECT e.study_id,
    {_pg_aggregates("e")}
FROM {EVENTS} e WHERE e.study_id IN (
    SELECT study_id FROM {EVENTS} WHERE to_status IN ('CANCELLED', 'REJECTED')
) AND e.to_status IN {TRACKED}
GROUP BY e.study_id
ON CONFLICT (study_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in NEW_COLUMNS)}
"""
def _sqlite_recount(study: str) -> str:
    """SQLite: the row of study ``study`` (an expression) counted again from its events."""
    firsts = [
        f"{column} = (SELECT min(at) FROM {EVENTS} WHERE study_id = {study} AND {cond})"
        for column, cond in MILESTONES
    ]
    signer = (
        f"signed_by_id = (SELECT actor_id FROM {EVENTS} WHERE study_id = {study} "
        "AND to_status = 'FINAL' ORDER BY at, id LIMIT 1)"
    )
    return f"UPDATE {TABLE} SET {', '.join([*firsts, signer])} WHERE study_id = {study};"


def _sqlite_if_earlier(column: str, cond: str, value: str, moment: str) -> str:
    """SQLite: ``column`` becomes ``value`` when the new event meets ``cond`` and comes before
    the milestone ``moment`` (or there is none yet); otherwise it stays."""
    return (
        f"{column} = CASE WHEN {cond} AND ({moment} IS NULL OR NEW.at < {moment}) "
        f"THEN {value} ELSE {column} END"
    )


# All of one UPDATE's SET expressions see the row as it was, so the signer compares with the
# final_at before this event.
SQLITE_SETS = ",\n            ".join(
    [
        *(_sqlite_if_earlier(c, _qualified(cond, "NEW"), "NEW.at", c) for c, cond in MILESTONES),
        _sqlite_if_earlier("signed_by_id", "NEW.to_status = 'FINAL'", "NEW.actor_id", "final_at"),
    ]
)
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS study_milestones_added",
    "DROP TRIGGER IF EXISTS study_milestones_edited",
    "DROP TRIGGER IF EXISTS study_milestones_removed",
]
SQLITE_FORWARD = [
    f"""CREATE TRIGGER study_milestones_added AFTER INSERT ON {EVENTS}
    WHEN NEW.to_status IN {TRACKED}
    BEGIN
        INSERT OR IGNORE INTO {TABLE} (study_id) VALUES (NEW.study_id);
        UPDATE {TABLE} SET
            {SQLITE_SETS}
        WHERE study_id = NEW.study_id;
    END""",
    f"""CREATE TRIGGER study_milestones_edited
    AFTER UPDATE OF study_id, from_status, to_status, at, actor_id ON {EVENTS}
    BEGIN
        INSERT OR IGNORE INTO {TABLE} (study_id)
        SELECT NEW.study_id WHERE NEW.to_status IN {TRACKED};
        {_sqlite_recount("OLD.study_id")}
        {_sqlite_recount("NEW.study_id")}
    END""",
    f"""CREATE TRIGGER study_milestones_removed AFTER DELETE ON {EVENTS}
    WHEN OLD.to_status IN {TRACKED}
    BEGIN
        {_sqlite_recount("OLD.study_id")}
    END""",
]
SQLITE_BACKFILL = [
    f"""INSERT OR IGNORE INTO {TABLE} (study_id)
    SELECT DISTINCT study_id FROM {EVENTS} WHERE to_status IN ('CANCELLED', 'REJECTED')""",
    *(
        f"""UPDATE {TABLE} SET {column} = (SELECT min(at) FROM {EVENTS} e
            WHERE e.study_id = {TABLE}.study_id AND {_qualified(cond, "e")})"""
        for column, cond in MILESTONES
        if column in NEW_COLUMNS
    ),
]


def _migration_0024():
    # The earlier definitions, for the way back (a module name that starts with a digit).
    return importlib.import_module("worklists.migrations.0024_study_milestones")


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [PG_ADDED, PG_RECOUNTED, PG_BACKFILL]
    elif vendor == "sqlite":
        statements = [*SQLITE_DROP, *SQLITE_FORWARD, *SQLITE_BACKFILL]
    else:
        raise NotImplementedError(f"study milestones on {vendor}")
    # The triggers first, in this transaction, as in 0024.
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    earlier = _migration_0024()
    if schema_editor.connection.vendor == "postgresql":
        statements = [earlier.PG_ADDED, earlier.PG_RECOUNTED]
    else:
        statements = [*SQLITE_DROP, *earlier.SQLITE_FORWARD]
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("worklists", "0027_study_milestones_grouping")]

    operations = [
        migrations.AddField(
            model_name="studymilestones",
            name="cancelled_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="studymilestones",
            name="rejected_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(forward, backward),
        migrations.AddIndex(
            model_name="studymilestones",
            index=models.Index(fields=["ordered_at"], name="study_milestones_ordered_at"),
        ),
        migrations.AddIndex(
            model_name="studymilestones",
            index=models.Index(
                fields=["cancelled_at"],
                name="study_milestones_cancelled_at",
                condition=models.Q(cancelled_at__isnull=False),
            ),
        ),
        migrations.AddIndex(
            model_name="studymilestones",
            index=models.Index(
                fields=["rejected_at"],
                name="study_milestones_rejected_at",
                condition=models.Q(rejected_at__isnull=False),
            ),
        ),
    ]
