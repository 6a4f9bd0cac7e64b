"""Count changes to readers' routing facts (see ReaderFactsVersion), by triggers on PostgreSQL.

SQLite has no triggers here: there "read next" rebuilds the reader's scope on every claim.
"""

from django.db import migrations, models

COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION worklists_reader_facts_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
-- TG_ARGV[0]: the column that names the reader, or the row leading to them;
-- TG_ARGV[1]: 'shift', 'user' or 'site' when that column is such a row's id.
DECLARE
    keys bigint[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        keys := keys || (to_jsonb(OLD) ->> TG_ARGV[0])::bigint;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        keys := keys || (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
    END IF;
    IF TG_ARGV[1] = 'shift' THEN
        keys := ARRAY(SELECT radiologist_id FROM worklists_shift WHERE id = ANY(keys));
    ELSIF TG_ARGV[1] = 'user' THEN
        keys := ARRAY(SELECT id FROM worklists_radiologist WHERE user_id = ANY(keys));
    ELSIF TG_ARGV[1] = 'site' THEN
        keys := ARRAY(SELECT radiologist_id FROM worklists_credential WHERE site_id = ANY(keys));
    END IF;
    -- in reader order, so one statement's rows lock their counts in the same order as another's
    INSERT INTO worklists_readerfactsversion AS counted (radiologist_id, version)
    SELECT DISTINCT reader, 1 FROM unnest(keys) AS reader WHERE reader IS NOT NULL ORDER BY 1
    ON CONFLICT (radiologist_id) DO UPDATE SET version = counted.version + 1;
    RETURN NULL;
END
$$;
"""

# Only what changes what a reader may read counts: a row added or removed, or an edit of these
# columns. Other edits (a shift's started_at as it starts) take no lock on the reader's count, so
# they cannot wait on, or deadlock with, a transaction that changed the reader's facts. Two
# transactions that both change one reader's facts do take turns (the second waits for the
# first to commit); claims only read the count and never wait.
# (table, columns whose edit counts, the column naming the reader, how it leads to the reader)
WATCHED = [
    ("worklists_shift", ["radiologist_id", "starts_at", "ends_at", "role"], "radiologist_id", ""),
    ("worklists_competence", ["radiologist_id", "subspecialty_id", "level"], "radiologist_id", ""),
    (
        "worklists_credential",
        ["radiologist_id", "site_id", "valid_from", "valid_until", "revoked_at"],
        "radiologist_id",
        "",
    ),
    ("worklists_shift_worklists", ["shift_id", "subspecialty_id"], "shift_id", "shift"),
    ("worklists_shift_sites", ["shift_id", "site_id"], "shift_id", "shift"),
    ("worklists_sitemembership", ["user_id", "site_id"], "user_id", "user"),
]
# Edits only: a new reader has no facts yet (those count as they are added); a site's credential
# days follow its time zone.
WATCHED_EDITS = [
    ("worklists_radiologist", ["is_active", "modalities", "user_id"], "id", ""),
    ("worklists_site", ["time_zone"], "id", "site"),
]


def _edit_trigger(table, columns, column, via):
    old = ", ".join(f"OLD.{c}" for c in columns)
    new = ", ".join(f"NEW.{c}" for c in columns)
    return (
        f"CREATE TRIGGER reader_facts_edited AFTER UPDATE OF {', '.join(columns)} ON {table} "
        f"FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new})) "
        f"EXECUTE FUNCTION worklists_reader_facts_changed('{column}', '{via}')"
    )


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(COUNT_FUNCTION)
    for table, columns, column, via in WATCHED:
        schema_editor.execute(
            f"CREATE TRIGGER reader_facts_added_or_removed AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION worklists_reader_facts_changed('{column}', '{via}')"
        )
        schema_editor.execute(_edit_trigger(table, columns, column, via))
    for table, columns, column, via in WATCHED_EDITS:
        schema_editor.execute(_edit_trigger(table, columns, column, via))


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, *_rest in WATCHED:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS reader_facts_added_or_removed ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS reader_facts_edited ON {table}")
    for table, *_rest in WATCHED_EDITS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS reader_facts_edited ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS worklists_reader_facts_changed()")


class Migration(migrations.Migration):

    dependencies = [
        ('worklists', '0010_read_next_decisions_in_their_events'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReaderFactsVersion',
            fields=[
                ('radiologist_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('version', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
