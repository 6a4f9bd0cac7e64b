"""API tokens stored hashed, step 3 of 3 (contract): the clear site keys go; the hash is
required and unique."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("worklists", "0014_api_tokens_hashed_backfill")]

    operations = [
        migrations.RemoveField(model_name="siteapitoken", name="key"),
        migrations.AlterField(
            model_name="siteapitoken",
            name="key_hash",
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.AlterField(
            model_name="siteapitoken",
            name="key_prefix",
            field=models.CharField(
                blank=True,
                help_text="The first characters of the secret, to tell it apart",
                max_length=12,
            ),
        ),
    ]
