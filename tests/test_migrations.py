"""Data migrations: what they move arrives, and what they cannot move stays."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests import factories
from worklists.actors import Actor
from worklists.models import RoutingDecision, StudyEvent
from worklists.services.claims import study_claim_next

BEFORE_FOLD = [("worklists", "0009_unindex_actor_of_events_and_assignments")]


def _migrate(targets: list[tuple[str, str]] | None = None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_read_next_decisions_fold_into_their_events_and_one_without_an_event_stays(
    owner, site_a, neuro
):
    factories.shift(owner, worklists=(neuro,))
    first = factories.ready_study(site_a, neuro)
    sibling = factories.ready_study(site_a, neuro, patient=first.patient)
    other = factories.ready_study(site_a, neuro)
    actor = Actor(user_id=owner.user_id, label=owner.user.username)
    claimed = study_claim_next(radiologist_id=owner.id, actor=actor)
    assert claimed is not None
    assert claimed.study_ids == [first.id, sibling.id]
    try:
        # Back before the fold: each claim's decision is a row of its own again.
        _migrate(BEFORE_FOLD)
        assert RoutingDecision.objects.filter(mode="PULL").count() == 2
        StudyEvent.objects.filter(data__kind="PULL").update(data={"kind": "PULL"})
        RoutingDecision.objects.filter(study=sibling).update(tier=1)
        orphan = RoutingDecision.objects.create(
            study=other,
            decided_at=timezone.now(),
            mode="PULL",
            trigger="read_next",
            radiologist=owner,
            trace={"chosen": owner.id, "bundled": False},
        )

        _migrate()
    finally:
        _migrate()

    assert list(RoutingDecision.objects.filter(mode="PULL")) == [orphan]
    events = {e.study_id: e.data for e in StudyEvent.objects.filter(data__kind="PULL")}
    assert events == {
        first.id: {"decision": "read_next", "kind": "PULL", "tier": 0, "bundled": False},
        sibling.id: {"decision": "read_next", "kind": "PULL", "tier": 1, "bundled": True},
    }
