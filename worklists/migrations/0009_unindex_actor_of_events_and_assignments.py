"""Drop the indexes on who made an assignment and who acted in a study event.

Nothing looks rows up by those columns, and every "read next" and every inbound order writes
such rows. Only the indexes go: the foreign-key constraints stay (Django's own AlterField would
drop and re-add them, re-checking every row of the table under lock).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('worklists', '0008_study_order_numbers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql='DROP INDEX IF EXISTS "worklists_assignment_assigned_by_id_cf05f2db"',
                    reverse_sql='CREATE INDEX "worklists_assignment_assigned_by_id_cf05f2db" ON "worklists_assignment" ("assigned_by_id")',
                ),
                migrations.RunSQL(
                    sql='DROP INDEX IF EXISTS "worklists_studyevent_actor_id_c39461f7"',
                    reverse_sql='CREATE INDEX "worklists_studyevent_actor_id_c39461f7" ON "worklists_studyevent" ("actor_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='assignment',
                    name='assigned_by',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='studyevent',
                    name='actor',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
            ],
        ),
    ]
