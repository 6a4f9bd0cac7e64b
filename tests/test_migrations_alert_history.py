"""Migration 0018: every alert that existed gets its history started (raised, and resolved if
it was), and its last raise is its first."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests import factories
from worklists.models import CoordinatorAlert

BEFORE = [("worklists", "0017_user_preference")]
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def _migrate(targets: list[tuple[str, str]] | None = None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_existing_alerts_get_their_history(site_a, coordinator):
    study = factories.StudyFactory(site=site_a)
    try:
        _migrate(BEFORE)
        apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        old = apps.get_model("worklists", "CoordinatorAlert")
        still_open = old.objects.create(
            kind="routing.escalation",
            study_id=study.id,
            site_id=site_a.id,
            message="m",
            raised_at=T0,
        )
        closed = old.objects.create(
            kind="hl7.dead_letter",
            study_id=study.id,
            site_id=site_a.id,
            message="m",
            raised_at=T0,
            resolved_at=T0 + dt.timedelta(hours=1),
            resolved_by_id=coordinator.pk,
            resolution="resent",
        )
        _migrate()
    finally:
        _migrate()

    opened = CoordinatorAlert.objects.get(pk=still_open.pk)
    assert (opened.last_raised_at, opened.raise_count, opened.snoozed_until) == (T0, 1, None)
    assert list(opened.events.values_list("action", "at")) == [("raised", T0)]
    resolved = CoordinatorAlert.objects.get(pk=closed.pk)
    assert list(resolved.events.values_list("action", "at", "actor_id", "note")) == [
        ("raised", T0, None, ""),
        ("resolved", T0 + dt.timedelta(hours=1), coordinator.pk, "resent"),
    ]
