"""A "read next" claim's decision lives in its event from now on: fold each stored PULL routing
decision into the event written with it (tier, bundled), then delete the decision row. A decision
whose event cannot be found is kept as it is, so nothing is lost."""

from django.db import migrations

BATCH = 2000


def fold_into_events(apps, schema_editor):
    RoutingDecision = apps.get_model("worklists", "RoutingDecision")
    StudyEvent = apps.get_model("worklists", "StudyEvent")
    last_id = 0
    while True:
        decisions = list(
            RoutingDecision.objects.filter(mode="PULL", id__gt=last_id).order_by("id")[:BATCH]
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
                .order_by("id")
                .first()
            )
            if event is None:
                continue
            event.data = {
                **event.data,
                "tier": decision.tier,
                "bundled": bool((decision.trace or {}).get("bundled", False)),
            }
            event.save(update_fields=["data"])
            folded.append(decision.id)
        RoutingDecision.objects.filter(id__in=folded).delete()


def unfold_from_events(apps, schema_editor):
    RoutingDecision = apps.get_model("worklists", "RoutingDecision")
    StudyEvent = apps.get_model("worklists", "StudyEvent")
    for event in StudyEvent.objects.filter(to_status="ASSIGNED", data__kind="PULL").iterator():
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
