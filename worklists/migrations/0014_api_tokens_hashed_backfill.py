"""API tokens stored hashed, step 2 of 3 (backfill): every site token gets the SHA-256 of its
key; every DRF authtoken (if that table exists) becomes a personal token with the same secret,
its hash only, expiring after PERSONAL_TOKEN_LIFETIME_DAYS; the clear DRF rows are deleted.
Irreversible by nature: a hash does not give the key back."""

import datetime as dt
import hashlib

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _password_stamp(password_hash: str) -> str:
    # As worklists.models.tokens.password_stamp (copied: migrations do not import live code).
    return hashlib.sha256(("token-password-stamp:" + password_hash).encode()).hexdigest()[:32]


def hash_site_tokens(apps, schema_editor):
    SiteApiToken = apps.get_model("worklists", "SiteApiToken")
    for token in SiteApiToken.objects.filter(key_hash__isnull=True).only("id", "key"):
        SiteApiToken.objects.filter(id=token.id).update(
            key_hash=_sha256(token.key), key_prefix=token.key[:12]
        )


def move_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    PersonalToken = apps.get_model("worklists", "PersonalToken")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    now = timezone.now()
    lifetime = dt.timedelta(days=getattr(settings, "PERSONAL_TOKEN_LIFETIME_DAYS", 30))
    passwords = dict(User.objects.values_list("id", "password"))
    PersonalToken.objects.bulk_create(
        PersonalToken(
            user_id=user_id,
            name="from the earlier token",
            key_hash=_sha256(key),
            key_prefix=key[:12],
            password_stamp=_password_stamp(passwords.get(user_id, "")),
            created_at=created or now,
            expires_at=now + lifetime,
        )
        for key, user_id, created in rows
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [("worklists", "0013_api_tokens_hashed_expand")]

    operations = [
        migrations.RunPython(hash_site_tokens, migrations.RunPython.noop),
        migrations.RunPython(move_drf_tokens, migrations.RunPython.noop),
    ]
