"""A report template's worklist is called ``worklist``, as everywhere else (was
``subspecialty``); its scope constraint names the field, so it is dropped and made again."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_macros_personal_and_shared"),
        ("worklists", "0019_one_name_for_a_worklist"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="reporttemplate", name="report_template_has_a_scope"
        ),
        migrations.RenameField("reporttemplate", "subspecialty", "worklist"),
        migrations.AlterField(
            model_name="macro",
            name="worklist",
            field=models.ForeignKey(
                blank=True,
                help_text="Shared: offered on every study of this worklist.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="macros",
                to="worklists.worklist",
            ),
        ),
        migrations.AlterField(
            model_name="reporttemplate",
            name="worklist",
            field=models.ForeignKey(
                blank=True,
                help_text="Used for studies in this worklist when no procedure template matches.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="report_templates",
                to="worklists.worklist",
            ),
        ),
        migrations.AddConstraint(
            model_name="reporttemplate",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("procedure_code", ""), _negated=True),
                    ("worklist__isnull", False),
                    _connector="OR",
                ),
                name="report_template_has_a_scope",
                violation_error_message="A template is for a procedure code or a worklist.",
            ),
        ),
    ]
