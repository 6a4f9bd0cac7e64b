"""One name for a worklist: the model Subspecialty is now Worklist, and the foreign keys to it
that were called ``subspecialty`` are called ``worklist`` like the others. Renames only: the
table, the many-to-many column of shifts and the foreign-key columns are renamed in place
(PostgreSQL keeps the reader-facts triggers, which name columns by number). The competence
constraint names the old field, so it is dropped before and made again after."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("worklists", "0018_coordinator_console_alerts"),
        # the reports app's migrations name the old model: they run first
        ("reports", "0005_macros_personal_and_shared"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="competence", name="one_competence_per_subspecialty"
        ),
        migrations.RenameModel("Subspecialty", "Worklist"),
        migrations.RenameField("competence", "subspecialty", "worklist"),
        migrations.RenameField("classificationrule", "subspecialty", "worklist"),
        migrations.AddConstraint(
            model_name="competence",
            constraint=models.UniqueConstraint(
                fields=("radiologist", "worklist"), name="one_competence_per_worklist"
            ),
        ),
        migrations.AlterModelOptions(
            name="worklist", options={"ordering": ["display_order", "name"]}
        ),
    ]
