"""Push routing: a study is routed when it becomes READY, when a reader finishes one, and when a
reader's shift starts; each decision keeps its trace; queues stay within their cap."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests import factories
from tests.live_support import GroupListener
from worklists import live
from worklists.actors import Actor
from worklists.models import (
    Assignment,
    CoverageWindow,
    RoutingDecision,
    SiteMembership,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.services import routing_loads
from worklists.services import studies as lifecycle
from worklists.services.routing import reader_fill_queue, study_route
from worklists.services.shifts import shifts_start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]
SYSTEM = Actor.system("test")


def test_a_ready_study_goes_to_an_eligible_reader_with_the_decision_and_its_trace(
    on_shift, site_a, neuro, outsider
):
    owner, other = on_shift
    factories.shift(outsider, worklists=(neuro,))
    Assignment.objects.create(
        study=factories.ready_study(site_a, neuro, status=StudyStatus.ASSIGNED),
        radiologist=owner,
        kind=Assignment.Kind.PUSH,
        assigned_at=timezone.now(),
    )
    study = factories.ready_study(site_a, neuro)

    decision = study_route(study_id=study.id, trigger="study.ready")

    assert decision is not None
    assert decision.radiologist_id == other.id  # the owner already holds one
    study.refresh_from_db()
    assert study.status == StudyStatus.ASSIGNED
    active = Assignment.objects.get(study=study, ended_at__isnull=True)
    assert (active.radiologist_id, active.kind) == (other.id, Assignment.Kind.PUSH)
    event = StudyEvent.objects.get(study=study, to_status=StudyStatus.ASSIGNED)
    assert event.actor_label == "system:routing"
    trace = decision.trace
    assert [c["id"] for c in trace["eligible"]] == [other.id, owner.id]
    assert {e["id"]: e["reason"] for e in trace["excluded"]} == {
        outsider.id: "no credential for this site"
    }
    assert trace["trigger"] == "study.ready"


def test_nobody_eligible_leaves_the_study_ready_and_says_why(owner, site_a, neuro):
    study = factories.ready_study(site_a, neuro)

    decision = study_route(study_id=study.id, trigger="study.ready")

    assert decision is not None
    assert decision.radiologist_id is None
    assert decision.trace["eligible"] == []
    assert decision.trace["not_considered"] == 1
    assert Study.objects.get(id=study.id).status == StudyStatus.READY


def test_a_study_that_is_no_longer_ready_is_not_routed(on_shift, site_a, neuro):
    study = factories.ready_study(site_a, neuro, status=StudyStatus.CANCELLED)
    assert study_route(study_id=study.id, trigger="study.ready") is None
    assert RoutingDecision.objects.count() == 0


def test_a_readers_queue_is_bounded_in_work_units_but_not_for_stat(owner, site_a, neuro, settings):
    settings.ROUTING_QUEUE_CAP_WORK_UNITS = 2.0
    factories.shift(owner, worklists=(neuro,))
    studies = [factories.ready_study(site_a, neuro, work_units=Decimal("1")) for _ in range(3)]
    stat = factories.ready_study(site_a, neuro, priority="STAT")

    for study in [*studies, stat]:
        study_route(study_id=study.id, trigger="study.ready")

    held = set(
        Assignment.objects.filter(radiologist=owner, ended_at__isnull=True).values_list(
            "study_id", flat=True
        )
    )
    assert held == {studies[0].id, studies[1].id, stat.id}
    refused = RoutingDecision.objects.get(study=studies[2])
    assert refused.radiologist_id is None
    assert refused.trace["excluded"][0]["reason"] == "queue full (2.00 + 1.00 of 2.00 work units)"


def test_marking_a_study_ready_routes_it_after_commit(
    on_shift, site_a, neuro, django_capture_on_commit_callbacks
):
    factories.RuleFactory(worklist=neuro, modality="CT")
    study = factories.StudyFactory(site=site_a)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.study_mark_ready(study_id=study.id, actor=SYSTEM)

    study.refresh_from_db()
    assert study.status == StudyStatus.ASSIGNED
    assert RoutingDecision.objects.get(study=study).trigger == "study.ready"


def test_finishing_a_study_refills_the_readers_queue(
    owner, site_a, neuro, settings, django_capture_on_commit_callbacks
):
    settings.ROUTING_QUEUE_CAP_WORK_UNITS = 1.0
    factories.shift(owner, worklists=(neuro,))
    first = factories.ready_study(site_a, neuro)
    waiting = factories.ready_study(site_a, neuro, deadline=timezone.now() + dt.timedelta(days=2))
    study_route(study_id=first.id, trigger="study.ready")
    study_route(study_id=waiting.id, trigger="study.ready")
    assert Study.objects.get(id=waiting.id).status == StudyStatus.READY  # queue full
    actor = Actor(user_id=owner.user_id, label="owner")
    lifecycle.study_start_reading(study_id=first.id, radiologist_id=owner.id, actor=actor)

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.study_finalize(study_id=first.id, radiologist_id=owner.id, actor=actor)

    assert Assignment.objects.get(study=waiting, ended_at__isnull=True).radiologist_id == owner.id
    assert RoutingDecision.objects.filter(study=waiting).first().trigger == "study.finalized"


def test_a_shift_start_carries_the_deficit_over_and_fills_the_queue(
    owner, site_a, neuro, django_capture_on_commit_callbacks
):
    now = timezone.now()
    factories.shift(
        owner,
        starts_at=now - dt.timedelta(hours=20),
        ends_at=now - dt.timedelta(hours=12),
        target_work_units=Decimal("10"),
        started_at=now - dt.timedelta(hours=20),
    )
    shift = factories.shift(owner, worklists=(neuro,), target_work_units=Decimal("10"))
    study = factories.ready_study(site_a, neuro)

    with django_capture_on_commit_callbacks(execute=True):
        started = shifts_start()
    again = shifts_start()

    assert started == [shift.id]
    assert again == []  # a shift starts once
    shift.refresh_from_db()
    assert shift.started_at is not None
    assert shift.carried_deficit_work_units == Decimal("10")  # nothing read last shift
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == owner.id
    assert RoutingDecision.objects.get(study=study).trigger == "shift.start"


def test_outside_its_coverage_window_a_sites_study_goes_only_to_its_own_readers(
    on_shift, site_a, neuro
):
    owner, other = on_shift
    # A window that is closed now: opens and closes one minute from now, in the site's zone.
    local = timezone.now().astimezone(site_a.zone)
    CoverageWindow.objects.create(
        site=site_a,
        day=local.weekday(),
        starts=(local + dt.timedelta(minutes=1)).time(),
        ends=(local + dt.timedelta(minutes=2)).time(),
    )
    SiteMembership.objects.create(user=other.user, site=site_a)
    study = factories.ready_study(site_a, neuro)

    decision = study_route(study_id=study.id, trigger="study.ready")

    assert decision is not None
    assert decision.radiologist_id == other.id
    excluded = {e["id"]: e["reason"] for e in decision.trace["excluded"]}
    assert excluded[owner.id] == "outside the site's coverage window: its own readers read it"


def test_the_same_patients_unread_studies_go_to_one_reader(on_shift, site_a, neuro):
    owner, other = on_shift
    patient = factories.PatientFactory()
    first = factories.ready_study(site_a, neuro, patient=patient)
    decision = study_route(study_id=first.id, trigger="study.ready")
    holder = decision.radiologist_id
    not_holder = other.id if holder == owner.id else owner.id
    # Load the holder more, so that without bundling the other reader would win.
    for _ in range(2):
        extra = factories.ready_study(site_a, neuro)
        study_route(study_id=extra.id, trigger="test", exclude_radiologist_id=not_holder)
    second = factories.ready_study(site_a, neuro, patient=patient)

    decision = study_route(study_id=second.id, trigger="study.ready")

    assert decision.radiologist_id == holder
    assert decision.trace["eligible"][0]["bundled"] == 1.0


def test_reader_fill_queue_gives_nothing_to_a_reader_off_shift(owner, site_a, neuro):
    factories.ready_study(site_a, neuro)
    assert reader_fill_queue(radiologist_id=owner.id, trigger="study.done") == 0
    assert Assignment.objects.count() == 0


def test_the_push_decision_reads_a_bounded_number_of_queries(
    on_shift, site_a, neuro, django_assert_max_num_queries
):
    for i in range(10):
        rad = factories.RadiologistFactory(user__username=f"extra{i}")
        factories.credential(rad, site_a)
        factories.competence(rad, neuro)
        factories.shift(rad, worklists=(neuro,))
    study = factories.ready_study(site_a, neuro)
    with django_assert_max_num_queries(22):
        study_route(study_id=study.id, trigger="study.ready")


def test_a_push_weighs_each_readers_held_stat_same_patient_and_this_shifts_work(
    on_shift, site_a, neuro, outsider
):
    owner, other = on_shift
    now = timezone.now()
    patient = factories.PatientFactory()
    held = factories.ready_study(site_a, neuro, status=StudyStatus.ASSIGNED, patient=patient)
    stat = factories.ready_study(site_a, neuro, status=StudyStatus.ASSIGNED, priority="STAT")
    signed = factories.ready_study(site_a, neuro, status=StudyStatus.FINAL)
    released = factories.ready_study(site_a, neuro)
    before_shift = factories.ready_study(site_a, neuro, status=StudyStatus.FINAL)
    for study, reader, at, ended, why in (
        (held, owner, now, None, ""),
        (stat, owner, now, None, ""),
        (signed, other, now, now, "signed"),
        (released, other, now, now, "released: by the reader"),
        (before_shift, other, now - dt.timedelta(hours=3), now, "signed"),
    ):
        Assignment.objects.create(
            study=study,
            radiologist=reader,
            kind=Assignment.Kind.PULL,
            assigned_at=at - dt.timedelta(minutes=5),
            ended_at=ended,
            end_reason=why,
        )

    readers, _others = routing_loads.readers_for(
        worklist_id=neuro.id, patient_id=patient.id, now=now, fresh=True
    )

    by_id = {r.id: r for r in readers}
    assert by_id[owner.id].queue_work_units == held.work_units + stat.work_units
    assert (by_id[owner.id].stat_held, by_id[owner.id].held_patient_ids) == (1, {patient.id})
    # work signed this shift counts; released work and work before the shift do not
    assert by_id[other.id].shift_work_units == signed.work_units
    assert outsider.id not in by_id


def test_a_reader_who_lost_their_credential_since_the_facts_were_read_is_passed_over(
    on_shift, site_a, neuro
):
    owner, other = on_shift
    first = factories.ready_study(site_a, neuro)
    decision = study_route(study_id=first.id, trigger="study.ready")  # reads and keeps facts
    assert decision.radiologist_id is not None
    took_it = decision.radiologist_id
    from worklists.models import Credential

    # The next choice would be the other reader (the first holds a study): revoke theirs.
    next_choice = other.id if took_it == owner.id else owner.id
    Credential.objects.filter(radiologist_id=next_choice).update(revoked_at=timezone.now())
    second = factories.ready_study(site_a, neuro)

    decision = study_route(study_id=second.id, trigger="study.ready")

    assert decision.radiologist_id == took_it
    excluded = {e["id"]: e["reason"] for e in decision.trace["excluded"]}
    assert excluded[next_choice] == "credential for this site revoked"


def test_with_the_reader_facts_kept_a_push_is_twelve_queries(
    on_shift, site_a, neuro, django_assert_max_num_queries
):
    warm = factories.ready_study(site_a, neuro)
    study_route(study_id=warm.id, trigger="study.ready")  # reads and keeps the reader facts
    study = factories.ready_study(site_a, neuro)

    # study, loads (held and this shift's), BEGIN, study lock, reader lock, queue, the decision,
    # the study's move, its event, the assignment, COMMIT (savepoint in tests)
    with django_assert_max_num_queries(12):
        decision = study_route(study_id=study.id, trigger="study.ready")

    assert decision is not None
    assert decision.radiologist_id is not None
    stored = RoutingDecision.objects.get(id=decision.id)
    assert (stored.radiologist_id, stored.trace) == (decision.radiologist_id, decision.trace)
    active = Assignment.objects.get(study=study, ended_at__isnull=True)
    assert (active.radiologist_id, active.kind, active.reason) == (
        decision.radiologist_id,
        Assignment.Kind.PUSH,
        f"routing decision {decision.id}",
    )
    event = StudyEvent.objects.get(study=study, to_status=StudyStatus.ASSIGNED)
    assert (event.from_status, event.actor_id, event.data) == (
        StudyStatus.READY,
        None,
        {"radiologist_id": decision.radiologist_id, "kind": Assignment.Kind.PUSH},
    )
    assert event.reason.startswith("routed to ")


def test_a_push_is_announced_to_the_sites_sockets_in_the_routing_batch_after_commit(
    on_shift, site_a, neuro, settings, django_capture_on_commit_callbacks
):
    settings.LIVE_BATCH_SECONDS = 60.0  # flushed below, not by the timer
    batcher = live.LiveBroadcaster()
    live._broadcaster = batcher
    try:
        with GroupListener(live.site_group(site_a.id)) as sockets:
            study = factories.ready_study(site_a, neuro)
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                decision = study_route(study_id=study.id, trigger="test")
            assert decision is not None
            assert decision.radiologist_id is not None
            batcher.flush()
            assert sockets.messages() == []  # nothing before the push has committed

            for callback in callbacks:
                callback()
            assert sockets.messages() == []  # committed: the event waits in the batch
            batcher.flush()

            [message] = sockets.messages(at_least=1)
        assert (message["study_id"], message["event"], message["status"]) == (
            study.id,
            "study.status",
            StudyStatus.ASSIGNED,
        )
    finally:
        live._broadcaster = None
        batcher.close()
