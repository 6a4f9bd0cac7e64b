"""Escalation: tiers widen as a deadline nears with nobody reading; the age bump; the alert."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests import factories
from worklists.models import (
    Assignment,
    CoordinatorAlert,
    RoutingDecision,
    Shift,
    Study,
    StudyStatus,
)
from worklists.services.escalation import ESCALATION_ALERT, aged_rank, studies_escalate
from worklists.services.routing import forget_coverage_cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_coverage():
    forget_coverage_cache()


def waiting(site, worklist, *, used: float, hours: int = 10, **kwargs: object) -> Study:
    """A READY study ``hours`` from ready to deadline, with ``used`` of that time gone."""
    now = timezone.now()
    ready_at = now - dt.timedelta(hours=hours * used)
    return factories.ready_study(
        site, worklist, ready_at=ready_at, deadline=ready_at + dt.timedelta(hours=hours), **kwargs
    )


def test_a_fresh_study_stays_at_tier_0(site_a, neuro):
    study = waiting(site_a, neuro, used=0.2)
    report = studies_escalate()
    assert report.escalated == {}
    assert Study.objects.get(id=study.id).escalation_tier == 0


def test_tier_1_lets_backup_readers_have_it(owner, site_a, neuro):
    factories.shift(owner, worklists=(neuro,), role=Shift.Role.BACKUP)
    study = waiting(site_a, neuro, used=0.6)

    report = studies_escalate()

    assert report.escalated == {study.id: 1}
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == owner.id
    decision = RoutingDecision.objects.get(study=study)
    assert (decision.trigger, decision.tier) == ("escalation.tier1", 1)


def test_tier_2_lets_every_competent_reader_on_any_shift_have_it(owner, site_a, neuro):
    msk = factories.WorklistFactory(code="msk")
    factories.shift(owner, worklists=(msk,))  # on shift, but for another worklist
    study = waiting(site_a, neuro, used=0.6)
    studies_escalate()
    assert Study.objects.get(id=study.id).status == StudyStatus.READY  # tier 1 is not enough

    now = timezone.now()
    Study.objects.filter(id=study.id).update(
        ready_at=now - dt.timedelta(hours=8), deadline=now + dt.timedelta(hours=2)
    )
    report = studies_escalate()

    assert report.escalated == {study.id: 2}
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == owner.id


def test_tier_3_alerts_the_coordinators_once(site_a, neuro):
    study = waiting(site_a, neuro, used=0.95)

    first = studies_escalate()
    second = studies_escalate()

    assert first.escalated == {study.id: 3}
    assert first.alerted == [study.id]
    assert second.alerted == []
    alert = CoordinatorAlert.objects.get(study=study)
    assert alert.kind == ESCALATION_ALERT
    assert alert.is_open
    assert Study.objects.get(id=study.id).status == StudyStatus.READY  # nobody could take it


def test_a_queued_study_nobody_has_opened_near_its_deadline_alerts_too(owner, site_a, neuro):
    study = waiting(site_a, neuro, used=0.95, status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=study, radiologist=owner, kind=Assignment.Kind.PUSH, assigned_at=timezone.now()
    )
    report = studies_escalate()
    assert report.alerted == [study.id]


def test_a_resolved_alert_for_a_queued_study_is_not_raised_again_every_run(
    owner, site_a, neuro, coordinator
):
    from worklists.actors import Actor
    from worklists.services.alerts import alert_resolve

    study = waiting(site_a, neuro, used=0.95, status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=study, radiologist=owner, kind=Assignment.Kind.PUSH, assigned_at=timezone.now()
    )
    first = studies_escalate()
    alert_resolve(
        alert_id=CoordinatorAlert.objects.get(study=study).id,
        actor=Actor.for_user(coordinator),
        resolution="phoned the reader",
    )

    again = studies_escalate()

    assert first.alerted == [study.id]
    assert again.alerted == []
    assert CoordinatorAlert.objects.filter(study=study).count() == 1


def test_the_age_bump_moves_a_long_waiting_routine_study_up_but_never_to_the_top(
    site_a, neuro, settings
):
    settings.ROUTING_MAX_WAIT_MINUTES = 60
    now = timezone.now()
    assert aged_rank(priority="ROUTINE", ready_at=now - dt.timedelta(minutes=59), now=now) == 3
    assert aged_rank(priority="ROUTINE", ready_at=now - dt.timedelta(minutes=61), now=now) == 2
    assert aged_rank(priority="ROUTINE", ready_at=now - dt.timedelta(hours=30), now=now) == 1
    assert aged_rank(priority="STAT", ready_at=now - dt.timedelta(hours=30), now=now) == 0
    # A month-long deadline so that only the age bump acts.
    study = waiting(site_a, neuro, used=0.01, hours=30 * 24 * 10)
    Study.objects.filter(id=study.id).update(ready_at=now - dt.timedelta(minutes=130))

    report = studies_escalate()

    assert report.bumped == {study.id: 1}
    assert Study.objects.get(id=study.id).routing_rank == 1
    assert RoutingDecision.objects.get(study=study).trigger == "escalation.age_bump"


def test_an_aged_routine_study_is_read_before_a_fresher_one_with_an_earlier_deadline(
    owner, site_a, neuro, settings
):
    settings.ROUTING_MAX_WAIT_MINUTES = 60
    from worklists.actors import Actor
    from worklists.services.claims import study_claim_next

    now = timezone.now()
    old = factories.ready_study(
        site_a, neuro, ready_at=now - dt.timedelta(hours=3), deadline=now + dt.timedelta(days=9)
    )
    factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(days=2))
    studies_escalate()
    factories.shift(owner, worklists=(neuro,))  # arrives after the bump

    claimed = study_claim_next(radiologist_id=owner.id, actor=Actor.system("test"))

    assert claimed is not None
    assert claimed.study_id == old.id
