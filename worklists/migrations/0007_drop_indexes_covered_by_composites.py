"""Drop single-column foreign-key indexes that a composite index already leads with.

Each cost every insert (and, on the study, every status change) one more index entry. Only
the indexes go: the foreign-key constraints stay as they are (Django's own AlterField would
drop and re-add them, re-checking every row of the table under lock).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('worklists', '0006_routing'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql='DROP INDEX IF EXISTS "worklists_inboundmessage_site_id_c4270783"',
                    reverse_sql='CREATE INDEX "worklists_inboundmessage_site_id_c4270783" ON "worklists_inboundmessage" ("site_id")',
                ),
                migrations.RunSQL(
                    sql='DROP INDEX IF EXISTS "worklists_routingdecision_study_id_9699a231"',
                    reverse_sql='CREATE INDEX "worklists_routingdecision_study_id_9699a231" ON "worklists_routingdecision" ("study_id")',
                ),
                migrations.RunSQL(
                    sql='DROP INDEX IF EXISTS "worklists_study_patient_id_930a571a"',
                    reverse_sql='CREATE INDEX "worklists_study_patient_id_930a571a" ON "worklists_study" ("patient_id")',
                ),
                migrations.RunSQL(
                    sql='DROP INDEX IF EXISTS "worklists_study_site_id_5c73845b"',
                    reverse_sql='CREATE INDEX "worklists_study_site_id_5c73845b" ON "worklists_study" ("site_id")',
                ),
                migrations.RunSQL(
                    sql='DROP INDEX IF EXISTS "worklists_study_worklist_id_67f073e5"',
                    reverse_sql='CREATE INDEX "worklists_study_worklist_id_67f073e5" ON "worklists_study" ("worklist_id")',
                ),
                migrations.RunSQL(
                    sql='DROP INDEX IF EXISTS "worklists_studyevent_study_id_0ce8e088"',
                    reverse_sql='CREATE INDEX "worklists_studyevent_study_id_0ce8e088" ON "worklists_studyevent" ("study_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='inboundmessage',
                    name='site',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='inbound_messages', to='worklists.site'),
                ),
                migrations.AlterField(
                    model_name='routingdecision',
                    name='study',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='routing_decisions', to='worklists.study'),
                ),
                migrations.AlterField(
                    model_name='study',
                    name='patient',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='studies', to='worklists.patient'),
                ),
                migrations.AlterField(
                    model_name='study',
                    name='site',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='studies', to='worklists.site'),
                ),
                migrations.AlterField(
                    model_name='study',
                    name='worklist',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='studies', to='worklists.subspecialty'),
                ),
                migrations.AlterField(
                    model_name='studyevent',
                    name='study',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='worklists.study'),
                ),
            ],
        ),
    ]
