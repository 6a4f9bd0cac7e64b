"""On PostgreSQL a signed report version cannot be deleted either.

(Flushing a test database there is TRUNCATE, which row triggers do not see. SQLite flushes with
DELETE, so there the foreign keys are the guard: a study with versions cannot be deleted.)
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION reports_version_undeletable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'report version is signed and cannot be deleted'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reports_version_no_delete BEFORE DELETE ON reports_reportversion
    FOR EACH ROW EXECUTE FUNCTION reports_version_undeletable();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS reports_version_no_delete ON reports_reportversion;
DROP FUNCTION IF EXISTS reports_version_undeletable();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_signing_failures")]

    operations = [migrations.RunPython(forward, backward)]
