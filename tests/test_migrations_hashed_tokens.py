"""Migrations 0013-0015: tokens that existed in clear are hashed in place and keep working."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from worklists.models import PersonalToken, SiteApiToken
from worklists.models.tokens import hash_secret

BEFORE = [("worklists", "0012_radiologist_last_active")]
SITE_KEY = "site_" + "a" * 43
DRF_KEY = "0123456789abcdef0123456789abcdef01234567"


def _migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_clear_site_and_personal_tokens_are_hashed_and_still_work(owner, site_a):
    try:
        executor = _migrate(BEFORE)
        old_apps = executor.loader.project_state(BEFORE[0]).apps
        old_site_token = old_apps.get_model("worklists", "SiteApiToken")
        old_site_token.objects.create(site_id=site_a.id, key=SITE_KEY)
        with connection.cursor() as cursor:
            # DRF's authtoken table as it was (the app is no longer installed).
            cursor.execute(
                "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
                "created timestamp with time zone NOT NULL, user_id bigint NOT NULL)"
            )
            cursor.execute(
                "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
                [DRF_KEY, timezone.now(), owner.user_id],
            )

        _migrate()
    finally:
        _migrate()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS authtoken_token")

    assert SiteApiToken.objects.get(site=site_a).key_hash == hash_secret(SITE_KEY)
    personal = PersonalToken.objects.get(user=owner.user)
    assert personal.key_hash == hash_secret(DRF_KEY)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {SITE_KEY}")
    assert client.post("/api/v1/orders", {}, format="json").status_code == 400
    client.credentials(HTTP_AUTHORIZATION=f"Token {DRF_KEY}")
    assert client.get("/api/v1/worklists").status_code == 200
