"""A "read next" claim's decision lives in its event from now on: fold each stored PULL routing
decision into the event written with it (tier, bundled), then delete the decision row. A decision
whose event cannot be found is kept as it is, so nothing is lost."""

from django.db import migrations

BATCH = 2000


# On PostgreSQL one statement, however many rows: each decision's event gains its tier and
# whether it was bundled, and the decision row goes.
FOLD_SQL = """
WITH folded AS (
    UPDATE worklists_studyevent e
    SET data = e.data || jsonb_build_object(
        'decision', 'read_next', 'tier', d.tier,
        'bundled', coalesce((d.trace ->> 'bundled')::boolean, false))
    FROM worklists_routingdecision d
    WHERE d.mode = 'PULL' AND d.trigger = 'read_next'
      AND e.study_id = d.study_id AND e.to_status = 'ASSIGNED' AND e.at = d.decided_at
      AND e.data ->> 'kind' = 'PULL'
    RETURNING d.id
)
DELETE FROM worklists_routingdecision WHERE id IN (SELECT id FROM folded)
"""


def fold_into_events(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FOLD_SQL)
        return
    RoutingDecision = apps.get_model("worklists", "RoutingDecision")
    StudyEvent = apps.get_model("worklists", "StudyEvent")
    last_id = 0
    while True:
        decisions = list(
            RoutingDecision.objects.filter(
                mode="PULL", trigger="read_next", id__gt=last_id
            ).order_by("id")[:BATCH]
        )
        if not decisions:
            return
        last_id = decisions[-1].id
        folded = []
        for decision in decisions:
            event = (
                StudyEvent.objects.filter(
                    study_id=decision.study_id,
                    to_status="ASSIGNED",
                    at=decision.decided_at,
                    data__kind="PULL",
                )
                # one decision per event, as the PostgreSQL statement folds: another decision
                # for the same event stays a row
                .exclude(data__has_key="decision")
                .order_by("id")
                .first()
            )
            if event is None:
                continue
            event.data = {
                **event.data,
                "decision": "read_next",
                "tier": decision.tier,
                "bundled": bool((decision.trace or {}).get("bundled", False)),
            }
            event.save(update_fields=["data"])
            folded.append(decision.id)
        RoutingDecision.objects.filter(id__in=folded).delete()


def unfold_from_events(apps, schema_editor):
    RoutingDecision = apps.get_model("worklists", "RoutingDecision")
    StudyEvent = apps.get_model("worklists", "StudyEvent")
    read_next = StudyEvent.objects.filter(to_status="ASSIGNED", data__decision="read_next")
    for event in read_next.iterator():
        RoutingDecision.objects.create(
            study_id=event.study_id,
            decided_at=event.at,
            mode="PULL",
            trigger="read_next",
            tier=event.data.get("tier", 0),
            radiologist_id=event.data.get("radiologist_id"),
            trace={
                "chosen": event.data.get("radiologist_id"),
                "bundled": event.data.get("bundled", False),
                "rule": event.data.get("rule", ""),
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("worklists", "0009_unindex_actor_of_events_and_assignments"),
    ]

    operations = [migrations.RunPython(fold_into_events, unfold_from_events)]
