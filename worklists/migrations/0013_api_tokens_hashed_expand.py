"""API tokens stored hashed, step 1 of 3 (expand): hash columns beside the clear ones, personal
tokens of our own (replacing DRF's authtoken), several tokens per site for rotation overlap."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("worklists", "0012_radiologist_last_active"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="siteapitoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="siteapitoken",
            name="key_hash",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="siteapitoken",
            name="key_prefix",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The first characters of the secret, to tell it apart",
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="siteapitoken",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="siteapitoken",
            name="site",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="api_tokens",
                to="worklists.site",
            ),
        ),
        migrations.CreateModel(
            name="PersonalToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(blank=True, max_length=100)),
                ("key_hash", models.CharField(max_length=64, unique=True)),
                ("key_prefix", models.CharField(blank=True, max_length=12)),
                ("password_stamp", models.CharField(max_length=32)),
                ("created_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField()),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "revoked_because",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("owner", "Revoked by its owner"),
                            ("password", "Password changed"),
                            ("deactivated", "User deactivated"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="personal_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("revoked_at__isnull", True)),
                        fields=["user", "created_at"],
                        name="personal_token_live_by_user",
                    )
                ],
            },
        ),
    ]
