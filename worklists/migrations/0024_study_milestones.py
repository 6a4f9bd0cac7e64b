"""StudyMilestones: each study's first moments into ORDERED (its creating event), READY,
IN_PROGRESS, PRELIMINARY and FINAL (with who signed), kept by triggers on worklists_studyevent,
and filled from the events already recorded.

Triggers rather than the services: every writer of events keeps it without knowing, also the
claim statement of worklists.queries (SQL) and bulk history (bulk_create, bulk_update), and no
transition pays a round trip for it.

- INSERT: a new event moves a milestone only earlier (LEAST / MIN): the first one counts, a
  second IN_PROGRESS after a reassignment does not move first_opened_at. Events into other
  statuses (ASSIGNED: every claim) write nothing.
- UPDATE of an event's study, statuses, moment or actor, and DELETE (the demo's backdating,
  a bench's reset): the touched studies' milestones are counted again from all their events.
  Only rows that exist are counted again on DELETE: a study being deleted with its events gets
  no row back.

PostgreSQL: statement triggers with transition tables (a bulk insert of history is one
aggregate per statement, not a trigger call per row). SQLite has row triggers only.
"""

from django.conf import settings
from django.db import migrations, models

TRACKED = "('ORDERED', 'READY', 'IN_PROGRESS', 'PRELIMINARY', 'FINAL')"
# (column, the condition on an event that makes it this milestone)
MILESTONES = [
    ("ordered_at", "from_status = '' AND to_status = 'ORDERED'"),
    ("first_ready_at", "to_status = 'READY'"),
    ("first_opened_at", "to_status = 'IN_PROGRESS'"),
    ("first_preliminary_at", "to_status = 'PRELIMINARY'"),
    ("final_at", "to_status = 'FINAL'"),
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

PG_FORWARD = [
    PG_ADDED,
    PG_RECOUNTED,
    f"""CREATE TRIGGER study_milestones_added AFTER INSERT ON {EVENTS}
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION worklists_study_milestones_added()""",
    f"""CREATE TRIGGER study_milestones_edited AFTER UPDATE ON {EVENTS}
    REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION worklists_study_milestones_recounted()""",
    f"""CREATE TRIGGER study_milestones_removed AFTER DELETE ON {EVENTS}
    REFERENCING OLD TABLE AS old_events
    FOR EACH STATEMENT EXECUTE FUNCTION worklists_study_milestones_recounted()""",
]
PG_BACKFILL = f"""
INSERT INTO {TABLE} ({COLUMNS})
SELECT e.study_id,
    {_pg_aggregates("e")}
FROM {EVENTS} e WHERE e.to_status IN {TRACKED}
GROUP BY e.study_id
"""
PG_BACKWARD = [
    f"DROP TRIGGER IF EXISTS study_milestones_added ON {EVENTS}",
    f"DROP TRIGGER IF EXISTS study_milestones_edited ON {EVENTS}",
    f"DROP TRIGGER IF EXISTS study_milestones_removed ON {EVENTS}",
    "DROP FUNCTION IF EXISTS worklists_study_milestones_added()",
    "DROP FUNCTION IF EXISTS worklists_study_milestones_recounted()",
]


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
SQLITE_BACKFILL = f"""
INSERT INTO {TABLE} ({COLUMNS})
SELECT e.study_id,
    {", ".join(f"min(CASE WHEN {_qualified(cond, 'e')} THEN e.at END)" for _c, cond in MILESTONES)},
    (SELECT f.actor_id FROM {EVENTS} f WHERE f.study_id = e.study_id AND f.to_status = 'FINAL'
        ORDER BY f.at, f.id LIMIT 1)
FROM {EVENTS} e WHERE e.to_status IN {TRACKED}
GROUP BY e.study_id
"""
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS study_milestones_added",
    "DROP TRIGGER IF EXISTS study_milestones_edited",
    "DROP TRIGGER IF EXISTS study_milestones_removed",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [*PG_FORWARD, PG_BACKFILL]
    elif vendor == "sqlite":
        statements = [*SQLITE_FORWARD, SQLITE_BACKFILL]
    else:
        raise NotImplementedError(f"study milestones on {vendor}")
    # The triggers first, in this transaction: an event written while the backfill runs is
    # either in it or (on PostgreSQL, the trigger's lock on the events waiting for this
    # transaction) written after it, through the trigger.
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = PG_BACKWARD if vendor == "postgresql" else SQLITE_BACKWARD
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("worklists", "0023_surge"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="StudyMilestones",
            fields=[
                (
                    "study",
                    models.OneToOneField(
                        on_delete=models.deletion.CASCADE,
                        primary_key=True,
                        related_name="milestones",
                        serialize=False,
                        to="worklists.study",
                    ),
                ),
                ("ordered_at", models.DateTimeField(blank=True, null=True)),
                ("first_ready_at", models.DateTimeField(blank=True, null=True)),
                ("first_opened_at", models.DateTimeField(blank=True, null=True)),
                ("first_preliminary_at", models.DateTimeField(blank=True, null=True)),
                ("final_at", models.DateTimeField(blank=True, null=True)),
                (
                    "signed_by",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "study milestones",
                "indexes": [models.Index(fields=["final_at"], name="study_milestones_final_at")],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
