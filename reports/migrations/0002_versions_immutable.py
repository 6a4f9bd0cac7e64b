"""A signed report version can never change: the database refuses an UPDATE of its row.

Deletes are left to the foreign keys (PROTECT from the study), so a test database can still be
flushed; nothing in the application deletes a version.
"""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION reports_version_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'report version is signed and cannot be changed'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reports_version_no_update BEFORE UPDATE ON reports_reportversion
    FOR EACH ROW EXECUTE FUNCTION reports_version_immutable();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS reports_version_no_update ON reports_reportversion;
DROP FUNCTION IF EXISTS reports_version_immutable();
"""
SQLITE_FORWARD = """
CREATE TRIGGER reports_version_no_update BEFORE UPDATE ON reports_reportversion
BEGIN
    SELECT RAISE(ABORT, 'report version is signed and cannot be changed');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS reports_version_no_update;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
