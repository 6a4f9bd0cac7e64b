from django.db import migrations


def create_defaults(apps, schema_editor):
    Subspecialty = apps.get_model("worklists", "Subspecialty")
    Group = apps.get_model("auth", "Group")
    if not Subspecialty.objects.filter(is_general=True).exists():
        Subspecialty.objects.create(
            code="general", name="General", is_general=True, display_order=1000
        )
    Group.objects.get_or_create(name="coordinators")


class Migration(migrations.Migration):
    dependencies = [
        ("worklists", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
