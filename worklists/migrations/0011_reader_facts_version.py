"""Count changes to readers' routing facts (see ReaderFactsVersion), by triggers on PostgreSQL.

SQLite has no triggers here: there "read next" rebuilds the reader's scope on every claim.
"""

from django.db import migrations, models

COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION worklists_reader_facts_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
-- TG_ARGV[0]: the column that names the reader, or the row leading to them;
-- TG_ARGV[1]: 'shift' or 'user' when that column is a shift's or a user's id.
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
    END IF;
    -- in reader order, so two transactions changing the same readers wait, not deadlock
    INSERT INTO worklists_readerfactsversion AS counted (radiologist_id, version)
    SELECT DISTINCT reader, 1 FROM unnest(keys) AS reader WHERE reader IS NOT NULL ORDER BY 1
    ON CONFLICT (radiologist_id) DO UPDATE SET version = counted.version + 1;
    RETURN NULL;
END
$$;
"""

# (table, operations, reader column, how that column leads to the reader)
WATCHED = [
    ("worklists_shift", "INSERT OR UPDATE OR DELETE", "radiologist_id", ""),
    ("worklists_competence", "INSERT OR UPDATE OR DELETE", "radiologist_id", ""),
    ("worklists_credential", "INSERT OR UPDATE OR DELETE", "radiologist_id", ""),
    # a new reader has no facts yet; once any of the above exists, those count
    ("worklists_radiologist", "UPDATE OR DELETE", "id", ""),
    ("worklists_shift_worklists", "INSERT OR UPDATE OR DELETE", "shift_id", "shift"),
    ("worklists_shift_sites", "INSERT OR UPDATE OR DELETE", "shift_id", "shift"),
    ("worklists_sitemembership", "INSERT OR UPDATE OR DELETE", "user_id", "user"),
]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(COUNT_FUNCTION)
    for table, operations, column, via in WATCHED:
        schema_editor.execute(
            f"CREATE TRIGGER reader_facts_changed AFTER {operations} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION worklists_reader_facts_changed('{column}', '{via}')"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _operations, _column, _via in WATCHED:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS reader_facts_changed ON {table}")
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
