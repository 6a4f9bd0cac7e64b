"""Pushed studies that are not opened come back to routing; idle readers receive no pushes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from tests import factories
from worklists.actors import Actor
from worklists.models import Assignment, Radiologist, RoutingDecision, StudyEvent, StudyStatus
from worklists.services.claims import claim_touch, study_claim_next
from worklists.services.routing import forget_coverage_cache, study_route
from worklists.services.studies import study_start_reading
from worklists.services.unopened import pushes_return_unopened, unopened_return_at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def push_to(study, reader, *, at):
    """The study as a push to ``reader`` at ``at`` leaves it: ASSIGNED, a PUSH assignment."""
    study.status = StudyStatus.ASSIGNED
    study.save(update_fields=["status"])
    return Assignment.objects.create(
        study=study, radiologist=reader, kind=Assignment.Kind.PUSH, assigned_at=at
    )


def test_the_return_is_a_third_of_the_turnaround_after_the_push(settings):
    settings.ROUTING_PUSH_UNOPENED_SHARE = 1 / 3
    settings.ROUTING_PUSH_UNOPENED_MIN_MINUTES = 5
    routine = unopened_return_at(assigned_at=T0, ready_at=T0, deadline=T0 + dt.timedelta(hours=6))
    assert routine == T0 + dt.timedelta(hours=2)


def test_a_stat_comes_back_after_the_floor_at_the_earliest(settings):
    settings.ROUTING_PUSH_UNOPENED_SHARE = 1 / 3
    settings.ROUTING_PUSH_UNOPENED_MIN_MINUTES = 5
    stat = unopened_return_at(assigned_at=T0, ready_at=T0, deadline=T0 + dt.timedelta(minutes=9))
    assert stat == T0 + dt.timedelta(minutes=5)


def test_a_late_push_comes_back_before_the_coordinator_alert_point(settings):
    settings.ROUTING_PUSH_UNOPENED_SHARE = 1 / 3
    settings.ROUTING_PUSH_UNOPENED_MIN_MINUTES = 5
    settings.ROUTING_ESCALATE_ALERT_AT = 0.9
    ready = T0 - dt.timedelta(minutes=70)  # pushed when 70 of 100 minutes were gone
    back = unopened_return_at(
        assigned_at=T0, ready_at=ready, deadline=ready + dt.timedelta(minutes=100)
    )
    assert back == ready + dt.timedelta(minutes=90)  # the alert point, not 70 + 33


def test_an_unopened_push_goes_back_to_routing_with_an_event_and_the_reason(
    on_shift, site_a, neuro, settings, django_capture_on_commit_callbacks
):
    owner, other = on_shift
    settings.ROUTING_PUSH_UNOPENED_SHARE = 1 / 3
    now = timezone.now()
    study = factories.ready_study(
        site_a, neuro, ready_at=now - dt.timedelta(hours=3), deadline=now + dt.timedelta(hours=3)
    )
    push_to(study, owner, at=now - dt.timedelta(hours=2, minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        returned = pushes_return_unopened(now=now)

    assert [(r.study_id, r.radiologist_id) for r in returned] == [(study.id, owner.id)]
    back = StudyEvent.objects.get(study=study, to_status=StudyStatus.READY)
    assert back.from_status == StudyStatus.ASSIGNED
    assert back.reason == "pushed, not opened within 121 minutes: routed again"
    assert back.data == {"radiologist_id": owner.id, "kind": "PUSH", "returned": True}
    ended = Assignment.objects.get(study=study, radiologist=owner)
    assert ended.ended_at == now
    assert ended.end_reason.startswith("returned: pushed, not opened")
    # routed again after commit, to the other eligible reader, not back to the same one
    decision = RoutingDecision.objects.filter(study=study).latest("decided_at")
    assert (decision.trigger, decision.radiologist_id) == ("push.unopened", other.id)
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == other.id


def test_with_no_one_else_eligible_the_returned_study_waits_in_the_pool(
    owner, neuro, site_a, django_capture_on_commit_callbacks
):
    factories.shift(owner, worklists=(neuro,))
    now = timezone.now()
    study = factories.ready_study(
        site_a, neuro, ready_at=now - dt.timedelta(hours=3), deadline=now + dt.timedelta(hours=3)
    )
    push_to(study, owner, at=now - dt.timedelta(hours=2, minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        pushes_return_unopened(now=now)

    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert not Assignment.objects.filter(study=study, ended_at__isnull=True).exists()


def test_a_push_not_yet_due_an_opened_one_and_a_pulled_one_stay(on_shift, site_a, neuro):
    owner, other = on_shift
    now = timezone.now()
    ready = now - dt.timedelta(hours=3)
    deadline = now + dt.timedelta(hours=3)
    fresh = factories.ready_study(site_a, neuro, ready_at=ready, deadline=deadline)
    push_to(fresh, owner, at=now - dt.timedelta(minutes=119))
    opened = factories.ready_study(site_a, neuro, ready_at=ready, deadline=deadline)
    push_to(opened, owner, at=now - dt.timedelta(hours=2, minutes=30))
    study_start_reading(study_id=opened.id, radiologist_id=owner.id, actor=Actor.system("t"))
    pulled = factories.ready_study(site_a, neuro, ready_at=ready, deadline=deadline)
    pulled.status = StudyStatus.ASSIGNED
    pulled.save(update_fields=["status"])
    Assignment.objects.create(
        study=pulled,
        radiologist=other,
        kind=Assignment.Kind.PULL,
        assigned_at=now - dt.timedelta(hours=2, minutes=30),
        last_activity_at=now,
    )

    assert pushes_return_unopened(now=now) == []
    assert Assignment.objects.filter(ended_at__isnull=True).count() == 3


def test_an_idle_reader_receives_no_pushes_and_the_trace_says_why(on_shift, site_a, neuro):
    owner, other = on_shift
    long_ago = timezone.now() - dt.timedelta(hours=3)
    Radiologist.objects.filter(id=owner.id).update(last_active_at=long_ago)
    # the owner would otherwise win: the other reader already holds work
    factories.ready_study(site_a, neuro, status=StudyStatus.ASSIGNED)
    busy = factories.ready_study(site_a, neuro, status=StudyStatus.ASSIGNED)
    Assignment.objects.create(
        study=busy, radiologist=other, kind=Assignment.Kind.PUSH, assigned_at=timezone.now()
    )
    study = factories.ready_study(site_a, neuro, priority="STAT")

    decision = study_route(study_id=study.id, trigger="test")

    assert decision is not None
    assert decision.radiologist_id == other.id
    excluded = {e["id"]: e["reason"] for e in decision.trace["excluded"]}
    assert excluded[owner.id] == "idle for more than 30 minutes: no pushes until they act again"


def test_an_idle_reader_who_acts_again_receives_pushes_again(on_shift, site_a, neuro):
    owner, other = on_shift
    Radiologist.objects.filter(id__in=[owner.id, other.id]).update(
        last_active_at=timezone.now() - dt.timedelta(hours=3)
    )
    held = factories.ready_study(site_a, neuro)
    first = study_route(study_id=held.id, trigger="test")
    assert first is not None
    assert first.radiologist_id is None  # both idle: it waits in the pool

    mine = study_claim_next(radiologist_id=owner.id, actor=Actor.system("t"))  # acting again
    assert mine is not None
    study_start_reading(study_id=held.id, radiologist_id=owner.id, actor=Actor.system("t"))
    assert claim_touch(study_id=held.id, radiologist_id=owner.id)
    forget_coverage_cache()
    routed = study_route(study_id=factories.ready_study(site_a, neuro).id, trigger="test")

    assert routed is not None
    assert routed.radiologist_id == owner.id


def test_a_reader_on_a_shift_begun_within_the_limit_is_not_idle(owner, site_a, neuro):
    factories.shift(owner, worklists=(neuro,), starts_at=timezone.now() - dt.timedelta(minutes=5))
    Radiologist.objects.filter(id=owner.id).update(last_active_at=None)

    decision = study_route(study_id=factories.ready_study(site_a, neuro).id, trigger="test")

    assert decision is not None
    assert decision.radiologist_id == owner.id


def test_signing_in_marks_the_reader_active(owner, neuro):
    factories.shift(owner, worklists=(neuro,))
    Radiologist.objects.filter(id=owner.id).update(last_active_at=None)
    user = get_user_model().objects.get(id=owner.user_id)
    user.set_password("pw-for-test")
    user.save()

    response = Client().post("/login/", {"username": user.username, "password": "pw-for-test"})

    assert response.status_code == 302
    assert Radiologist.objects.get(id=owner.id).last_active_at is not None


def test_opening_the_reading_page_makes_a_queued_study_in_progress_and_it_is_not_returned(
    on_shift, site_a, neuro
):
    owner, other = on_shift

    def client_for(user):
        client = Client()
        client.force_login(user)
        return client

    now = timezone.now()
    study = factories.ready_study(
        site_a, neuro, ready_at=now - dt.timedelta(hours=3), deadline=now + dt.timedelta(hours=3)
    )
    push_to(study, owner, at=now - dt.timedelta(hours=2, minutes=1))

    assert client_for(other.user).get(f"/studies/{study.id}/read/").status_code == 200
    study.refresh_from_db()
    assert study.status == StudyStatus.ASSIGNED  # not the holder: nothing moves

    assert client_for(owner.user).get(f"/studies/{study.id}/read/").status_code == 200

    study.refresh_from_db()
    assert study.status == StudyStatus.IN_PROGRESS
    opened = StudyEvent.objects.get(study=study, to_status=StudyStatus.IN_PROGRESS)
    assert opened.actor_id == owner.user_id
    assert pushes_return_unopened(now=now) == []
