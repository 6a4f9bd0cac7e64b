"""The study lifecycle: one service per transition, one StudyEvent per status change, and every
transition the table does not allow refused without writing anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.factories import RuleFactory, StudyFactory
from tests.live_support import GroupListener
from worklists import lifecycle
from worklists.actors import Actor
from worklists.lifecycle import ALLOWED_TRANSITIONS, IllegalTransition
from worklists.live import site_group
from worklists.models import Assignment, Radiologist, Study, StudyEvent, StudyStatus
from worklists.services import studies as services
from worklists.services.studies import NotEligible, NotTheHolder, ReasonRequired

S = StudyStatus
SYSTEM = Actor.system("test")

pytestmark = pytest.mark.django_db


# --- helpers ------------------------------------------------------------------------------------


def events_of(study: Study) -> list[StudyEvent]:
    return list(StudyEvent.objects.filter(study=study).order_by("id"))


def active_assignments(study: Study) -> list[Assignment]:
    return list(Assignment.objects.filter(study=study, ended_at__isnull=True))


def snapshot(study: Study) -> tuple:
    """Everything a refused transition must leave as it was."""
    study.refresh_from_db()
    return (
        study.status,
        study.status_changed_at,
        study.ready_at,
        study.worklist_id,
        study.deadline,
        study.updated_at,
        [(e.id, e.from_status, e.to_status) for e in events_of(study)],
        list(Assignment.objects.filter(study=study).values_list("id", "ended_at", "end_reason")),
    )


def new_events(study: Study, before: int) -> list[StudyEvent]:
    return events_of(study)[before:]


class Journey:
    """Brings fresh studies at site A to any status through the services themselves."""

    def __init__(self, site, holder: Radiologist) -> None:
        self.site = site
        self.holder = holder
        self.actor = Actor.for_user(holder.user)

    def study(self, status: str, **fields: object) -> Study:
        study = StudyFactory.create(site=self.site, **fields)
        steps: dict[str, list[Callable[[Study], object]]] = {
            S.ORDERED: [],
            S.READY: [self.ready],
            S.ASSIGNED: [self.ready, self.assign],
            S.IN_PROGRESS: [self.ready, self.assign, self.start],
            S.PRELIMINARY: [self.ready, self.assign, self.start, self.preliminary],
            S.FINAL: [self.ready, self.assign, self.start, self.finalize],
            S.CANCELLED: [self.cancel],
            S.REJECTED: [self.ready, self.reject],
            S.ON_HOLD: [self.ready, self.hold],
        }
        for step in steps[status]:
            step(study)
        study.refresh_from_db()
        assert study.status == status
        return study

    def ready(self, study: Study) -> None:
        services.study_mark_ready(study_id=study.id, actor=SYSTEM)

    def assign(self, study: Study) -> None:
        services.study_assign(study_id=study.id, radiologist_id=self.holder.id, actor=SYSTEM)

    def start(self, study: Study) -> None:
        services.study_start_reading(
            study_id=study.id, radiologist_id=self.holder.id, actor=self.actor
        )

    def preliminary(self, study: Study) -> None:
        services.study_issue_preliminary(
            study_id=study.id, radiologist_id=self.holder.id, actor=self.actor
        )

    def finalize(self, study: Study) -> None:
        services.study_finalize(study_id=study.id, radiologist_id=self.holder.id, actor=self.actor)

    def cancel(self, study: Study) -> None:
        services.study_cancel(study_id=study.id, actor=SYSTEM)

    def reject(self, study: Study) -> None:
        services.study_reject(study_id=study.id, actor=SYSTEM, reason="wrong modality requested")

    def hold(self, study: Study) -> None:
        services.study_hold(study_id=study.id, actor=SYSTEM, reason="patient identity unclear")


@pytest.fixture
def journey(site_a, owner) -> Journey:
    return Journey(site_a, owner)


def assert_one_event(study: Study, before: int, from_status: str, to_status: str, actor: Actor):
    study.refresh_from_db()
    (event,) = new_events(study, before)
    assert (event.from_status, event.to_status) == (from_status, to_status)
    assert event.actor_label == actor.label
    assert event.actor_id == actor.user_id
    assert event.at == study.status_changed_at
    assert study.status == to_status
    return event


# --- the table ----------------------------------------------------------------------------------

ALL_STATUSES = list(S)
ALLOWED_PAIRS = [(f, t) for f, targets in ALLOWED_TRANSITIONS.items() for t in sorted(targets)]
FORBIDDEN_PAIRS = [
    (f, t) for f in ALL_STATUSES for t in ALL_STATUSES if t not in ALLOWED_TRANSITIONS[f]
]


def test_the_table_has_a_row_for_every_status_and_names_only_known_statuses():
    assert set(ALLOWED_TRANSITIONS) == set(S)
    for targets in ALLOWED_TRANSITIONS.values():
        assert targets <= set(S)


def test_final_cancelled_and_rejected_are_terminal():
    assert {S.FINAL, S.CANCELLED, S.REJECTED} == lifecycle.TERMINAL_STATUSES


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED_PAIRS)
def test_a_transition_in_the_table_is_allowed(from_status, to_status):
    assert lifecycle.is_allowed(from_status, to_status)
    assert lifecycle.is_allowed(str(from_status.value), str(to_status))  # plain strings too


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN_PAIRS)
def test_a_transition_not_in_the_table_is_not_allowed(from_status, to_status):
    assert not lifecycle.is_allowed(from_status, to_status)


def test_an_unknown_status_allows_nothing():
    assert not lifecycle.is_allowed("LOST", S.READY)
    assert not lifecycle.is_allowed(S.READY, "LOST")


def test_the_illegal_transition_message_names_both_statuses():
    exc = IllegalTransition(42, S.READY, S.FINAL)

    assert "from READY to FINAL" in str(exc)
    assert "42" in str(exc)
    assert (exc.study_id, exc.from_status, exc.to_status) == (42, S.READY, S.FINAL)


# --- mark ready ---------------------------------------------------------------------------------


def test_mark_ready_opens_an_ordered_study_for_reading(site_a, neuro):
    rule = RuleFactory(position=10, worklist=neuro, modality="CT", work_units="1.25")
    study = StudyFactory(site=site_a, modality="CT")
    at = dt.datetime(2026, 3, 10, 8, 15, tzinfo=dt.UTC)
    assert (study.status, study.images_available, study.ready_at) == (S.ORDERED, False, None)

    services.study_mark_ready(study_id=study.id, actor=SYSTEM, at=at)

    event = assert_one_event(study, 0, S.ORDERED, S.READY, SYSTEM)
    assert study.ready_at == at
    assert study.status_changed_at == at
    assert study.images_available is True
    assert study.worklist == neuro
    assert study.classification_rule == rule
    assert study.work_units == Decimal("1.25")
    assert study.deadline is not None
    assert study.deadline > at
    assert event.data["deadline_source"] in ("contract", "default")
    assert active_assignments(study) == []


def test_mark_ready_without_a_time_uses_now(site_a):
    study = StudyFactory(site=site_a)
    before = timezone.now()

    services.study_mark_ready(study_id=study.id, actor=SYSTEM)

    study.refresh_from_db()
    assert before <= study.ready_at <= timezone.now()


# --- assign, reassign, unassign -----------------------------------------------------------------


def test_assign_puts_a_ready_study_in_one_radiologists_queue(journey, owner, coordinator):
    study = journey.study(S.READY)
    actor = Actor.for_user(coordinator)

    assignment = services.study_assign(
        study_id=study.id, radiologist_id=owner.id, actor=actor, kind=Assignment.Kind.MANUAL
    )

    event = assert_one_event(study, 1, S.READY, S.ASSIGNED, actor)
    assert active_assignments(study) == [assignment]
    assert assignment.radiologist == owner
    assert assignment.kind == Assignment.Kind.MANUAL
    assert assignment.assigned_by == coordinator
    assert assignment.assigned_at == event.at
    assert event.data == {"radiologist_id": owner.id, "kind": "MANUAL"}


@pytest.mark.parametrize("reason", ["", "   "])
def test_reassign_needs_a_reason_and_writes_nothing_without_one(journey, other_radiologist, reason):
    study = journey.study(S.ASSIGNED)
    before = snapshot(study)

    with pytest.raises(ReasonRequired):
        services.study_reassign(
            study_id=study.id, radiologist_id=other_radiologist.id, actor=SYSTEM, reason=reason
        )

    assert snapshot(study) == before


@pytest.mark.parametrize("from_status", [S.ASSIGNED, S.IN_PROGRESS])
def test_reassign_ends_the_old_assignment_and_gives_the_study_to_the_other_radiologist(
    journey, owner, other_radiologist, coordinator, from_status
):
    study = journey.study(from_status)
    (old,) = active_assignments(study)
    count = len(events_of(study))
    actor = Actor.for_user(coordinator)

    new = services.study_reassign(
        study_id=study.id, radiologist_id=other_radiologist.id, actor=actor, reason="owner ill"
    )

    event = assert_one_event(study, count, from_status, S.ASSIGNED, actor)
    assert event.reason == "owner ill"
    assert event.data["previous_radiologist_id"] == owner.id
    assert event.data["radiologist_id"] == other_radiologist.id
    old.refresh_from_db()
    assert old.ended_at == event.at
    assert "owner ill" in old.end_reason
    assert active_assignments(study) == [new]
    assert new.radiologist == other_radiologist
    assert new.kind == Assignment.Kind.MANUAL
    assert Assignment.objects.filter(study=study).count() == 2


@pytest.mark.parametrize("from_status", [S.READY, S.ORDERED, S.FINAL])
def test_reassign_of_a_study_nobody_holds_is_illegal_and_writes_nothing(
    journey, other_radiologist, from_status
):
    study = journey.study(from_status)
    before = snapshot(study)

    with pytest.raises(IllegalTransition):
        services.study_reassign(
            study_id=study.id, radiologist_id=other_radiologist.id, actor=SYSTEM, reason="load"
        )

    assert snapshot(study) == before


@pytest.mark.parametrize("from_status", [S.ASSIGNED, S.IN_PROGRESS])
def test_unassign_returns_the_study_to_ready_and_ends_the_assignment(journey, from_status):
    study = journey.study(from_status)
    (assignment,) = active_assignments(study)
    count = len(events_of(study))

    services.study_unassign(study_id=study.id, actor=SYSTEM, reason="back to the pool")

    event = assert_one_event(study, count, from_status, S.READY, SYSTEM)
    assignment.refresh_from_db()
    assert assignment.ended_at == event.at
    assert assignment.end_reason == "back to the pool"
    assert active_assignments(study) == []


# --- reading ------------------------------------------------------------------------------------


def test_the_holder_starts_reading_an_assigned_study(journey, owner):
    study = journey.study(S.ASSIGNED)
    actor = Actor.for_user(owner.user)

    services.study_start_reading(study_id=study.id, radiologist_id=owner.id, actor=actor)

    assert_one_event(study, 2, S.ASSIGNED, S.IN_PROGRESS, actor)
    assert [a.radiologist for a in active_assignments(study)] == [owner]


@pytest.mark.parametrize(
    ("status", "service"),
    [
        (S.ASSIGNED, services.study_start_reading),
        (S.IN_PROGRESS, services.study_issue_preliminary),
        (S.IN_PROGRESS, services.study_finalize),
        (S.PRELIMINARY, services.study_finalize),
    ],
)
def test_only_the_holder_may_read_issue_or_sign(journey, other_radiologist, status, service):
    study = journey.study(status)
    before = snapshot(study)

    with pytest.raises(NotTheHolder):
        service(
            study_id=study.id,
            radiologist_id=other_radiologist.id,
            actor=Actor.for_user(other_radiologist.user),
        )

    assert snapshot(study) == before


def test_the_holder_issues_a_preliminary_report(journey, owner):
    study = journey.study(S.IN_PROGRESS)
    actor = Actor.for_user(owner.user)

    services.study_issue_preliminary(study_id=study.id, radiologist_id=owner.id, actor=actor)

    assert_one_event(study, 3, S.IN_PROGRESS, S.PRELIMINARY, actor)
    assert len(active_assignments(study)) == 1  # still the holder's until signed


@pytest.mark.parametrize("from_status", [S.IN_PROGRESS, S.PRELIMINARY])
def test_finalize_signs_the_study_and_completes_the_assignment(journey, owner, from_status):
    study = journey.study(from_status)
    (assignment,) = active_assignments(study)
    count = len(events_of(study))
    actor = Actor.for_user(owner.user)

    services.study_finalize(study_id=study.id, radiologist_id=owner.id, actor=actor)

    event = assert_one_event(study, count, from_status, S.FINAL, actor)
    assignment.refresh_from_db()
    assert assignment.ended_at == event.at
    assert assignment.end_reason == "signed"
    assert active_assignments(study) == []


# --- side exits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "from_status", [S.ORDERED, S.READY, S.ASSIGNED, S.IN_PROGRESS, S.PRELIMINARY, S.ON_HOLD]
)
def test_cancel_works_from_every_open_state_and_ends_any_assignment(journey, from_status):
    study = journey.study(from_status)
    had_assignment = bool(active_assignments(study))
    count = len(events_of(study))

    services.study_cancel(study_id=study.id, actor=Actor.for_site("alfa"), reason="")

    event = assert_one_event(study, count, from_status, S.CANCELLED, Actor.for_site("alfa"))
    assert event.reason == "order cancelled"
    assert active_assignments(study) == []
    if had_assignment:
        assert Assignment.objects.get(study=study).end_reason == "order cancelled"


@pytest.mark.parametrize("reason", ["", " \n "])
def test_reject_needs_a_reason_and_writes_nothing_without_one(journey, reason):
    study = journey.study(S.READY)
    before = snapshot(study)

    with pytest.raises(ReasonRequired):
        services.study_reject(study_id=study.id, actor=SYSTEM, reason=reason)

    assert snapshot(study) == before


@pytest.mark.parametrize("from_status", [S.READY, S.ASSIGNED, S.IN_PROGRESS])
def test_reject_returns_the_referral_with_its_reason_and_ends_any_assignment(journey, from_status):
    study = journey.study(from_status)
    count = len(events_of(study))

    services.study_reject(study_id=study.id, actor=SYSTEM, reason="no clinical question")

    event = assert_one_event(study, count, from_status, S.REJECTED, SYSTEM)
    assert event.reason == "no clinical question"
    assert active_assignments(study) == []


def test_hold_needs_a_reason_and_writes_nothing_without_one(journey):
    study = journey.study(S.ASSIGNED)
    before = snapshot(study)

    with pytest.raises(ReasonRequired):
        services.study_hold(study_id=study.id, actor=SYSTEM, reason=" ")

    assert snapshot(study) == before


@pytest.mark.parametrize("from_status", [S.ORDERED, S.READY, S.ASSIGNED, S.IN_PROGRESS])
def test_hold_sets_a_study_aside_and_its_holder_lets_go(journey, from_status):
    study = journey.study(from_status)
    count = len(events_of(study))

    services.study_hold(study_id=study.id, actor=SYSTEM, reason="identity to resolve")

    event = assert_one_event(study, count, from_status, S.ON_HOLD, SYSTEM)
    assert event.reason == "identity to resolve"
    assert active_assignments(study) == []


@pytest.mark.parametrize("held_from", [S.READY, S.ASSIGNED, S.IN_PROGRESS])
def test_releasing_a_study_that_had_been_ready_puts_it_back_to_ready(journey, held_from):
    study = journey.study(held_from)
    deadline = study.deadline
    services.study_hold(study_id=study.id, actor=SYSTEM, reason="identity to resolve")
    count = len(events_of(study))

    services.study_release_hold(study_id=study.id, actor=SYSTEM, reason="resolved")

    event = assert_one_event(study, count, S.ON_HOLD, S.READY, SYSTEM)
    assert event.reason == "resolved"
    assert study.deadline == deadline
    assert active_assignments(study) == []


def test_releasing_a_study_held_before_its_images_came_puts_it_back_to_ordered(journey):
    study = journey.study(S.ORDERED)
    services.study_hold(study_id=study.id, actor=SYSTEM, reason="identity to resolve")

    services.study_release_hold(study_id=study.id, actor=SYSTEM)

    assert_one_event(study, 1, S.ON_HOLD, S.ORDERED, SYSTEM)
    assert study.ready_at is None
    assert study.deadline is None


def test_releasing_a_study_held_before_ready_whose_images_are_in_makes_it_ready(
    journey, general_worklist
):
    study = journey.study(S.ORDERED)
    services.study_hold(study_id=study.id, actor=SYSTEM, reason="identity to resolve")
    Study.objects.filter(id=study.id).update(images_available=True)

    services.study_release_hold(study_id=study.id, actor=SYSTEM)

    study.refresh_from_db()
    released, ready = new_events(study, 1)
    assert (released.from_status, released.to_status) == (S.ON_HOLD, S.ORDERED)
    assert (ready.from_status, ready.to_status) == (S.ORDERED, S.READY)
    assert study.status == S.READY
    assert study.ready_at == ready.at
    assert study.worklist == general_worklist
    assert study.deadline is not None


def test_a_whole_reading_writes_one_event_per_status_change(journey, owner, other_radiologist):
    study = StudyFactory(site=journey.site)
    reader = Actor.for_user(other_radiologist.user)

    services.study_mark_ready(study_id=study.id, actor=SYSTEM)
    services.study_assign(study_id=study.id, radiologist_id=owner.id, actor=SYSTEM)
    services.study_reassign(
        study_id=study.id, radiologist_id=other_radiologist.id, actor=SYSTEM, reason="load"
    )
    services.study_start_reading(
        study_id=study.id, radiologist_id=other_radiologist.id, actor=reader
    )
    services.study_issue_preliminary(
        study_id=study.id, radiologist_id=other_radiologist.id, actor=reader
    )
    services.study_finalize(study_id=study.id, radiologist_id=other_radiologist.id, actor=reader)

    transitions = [(e.from_status, e.to_status) for e in events_of(study)]
    assert transitions == [
        (S.ORDERED, S.READY),
        (S.READY, S.ASSIGNED),
        (S.ASSIGNED, S.ASSIGNED),
        (S.ASSIGNED, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.PRELIMINARY),
        (S.PRELIMINARY, S.FINAL),
    ]
    assert active_assignments(study) == []
    assert Assignment.objects.filter(study=study).count() == 2


def test_the_event_and_the_status_change_are_rolled_back_together(journey, other_radiologist):
    # A stray active assignment makes study_assign fail after it has written the status and the
    # event: both must disappear with the failed transaction.
    study = journey.study(S.READY)
    Assignment.objects.create(
        study=study,
        radiologist=other_radiologist,
        kind=Assignment.Kind.PUSH,
        assigned_at=timezone.now(),
    )
    before = snapshot(study)

    with pytest.raises(IntegrityError):
        services.study_assign(study_id=study.id, radiologist_id=journey.holder.id, actor=SYSTEM)

    assert snapshot(study) == before
    assert study.status == S.READY


# --- illegal transitions through the services ---------------------------------------------------


def _finalize(j: Journey, study: Study) -> None:
    services.study_finalize(study_id=study.id, radiologist_id=j.holder.id, actor=j.actor)


def _assign(j: Journey, study: Study) -> None:
    services.study_assign(study_id=study.id, radiologist_id=j.holder.id, actor=SYSTEM)


def _reassign(j: Journey, study: Study) -> None:
    services.study_reassign(
        study_id=study.id, radiologist_id=j.holder.id, actor=SYSTEM, reason="rebalance"
    )


def _mark_ready(j: Journey, study: Study) -> None:
    services.study_mark_ready(study_id=study.id, actor=SYSTEM)


def _start(j: Journey, study: Study) -> None:
    services.study_start_reading(study_id=study.id, radiologist_id=j.holder.id, actor=j.actor)


def _preliminary(j: Journey, study: Study) -> None:
    services.study_issue_preliminary(study_id=study.id, radiologist_id=j.holder.id, actor=j.actor)


def _unassign(j: Journey, study: Study) -> None:
    services.study_unassign(study_id=study.id, actor=SYSTEM, reason="back")


def _cancel(j: Journey, study: Study) -> None:
    services.study_cancel(study_id=study.id, actor=SYSTEM)


def _reject(j: Journey, study: Study) -> None:
    services.study_reject(study_id=study.id, actor=SYSTEM, reason="not indicated")


def _hold(j: Journey, study: Study) -> None:
    services.study_hold(study_id=study.id, actor=SYSTEM, reason="wait")


def _release(j: Journey, study: Study) -> None:
    services.study_release_hold(study_id=study.id, actor=SYSTEM)


ILLEGAL_CALLS = [
    # (state the study is in, service call, the status the call tries to reach)
    (S.READY, _finalize, S.FINAL),
    (S.ASSIGNED, _finalize, S.FINAL),
    (S.FINAL, _finalize, S.FINAL),
    (S.FINAL, _assign, S.ASSIGNED),
    (S.ORDERED, _assign, S.ASSIGNED),
    (S.ASSIGNED, _assign, S.ASSIGNED),
    (S.IN_PROGRESS, _assign, S.ASSIGNED),
    (S.ON_HOLD, _assign, S.ASSIGNED),
    (S.FINAL, _reassign, S.ASSIGNED),
    (S.PRELIMINARY, _reassign, S.ASSIGNED),
    (S.READY, _mark_ready, S.READY),
    (S.ASSIGNED, _mark_ready, S.READY),
    (S.IN_PROGRESS, _mark_ready, S.READY),
    (S.ON_HOLD, _mark_ready, S.READY),
    (S.CANCELLED, _mark_ready, S.READY),
    (S.IN_PROGRESS, _start, S.IN_PROGRESS),
    (S.READY, _start, S.IN_PROGRESS),
    (S.ASSIGNED, _preliminary, S.PRELIMINARY),
    (S.PRELIMINARY, _preliminary, S.PRELIMINARY),
    (S.ORDERED, _unassign, S.READY),
    (S.READY, _unassign, S.READY),
    (S.ON_HOLD, _unassign, S.READY),
    (S.PRELIMINARY, _unassign, S.READY),
    (S.FINAL, _cancel, S.CANCELLED),
    (S.CANCELLED, _cancel, S.CANCELLED),
    (S.REJECTED, _cancel, S.CANCELLED),
    (S.ORDERED, _reject, S.REJECTED),
    (S.PRELIMINARY, _reject, S.REJECTED),
    (S.PRELIMINARY, _hold, S.ON_HOLD),
    (S.ON_HOLD, _hold, S.ON_HOLD),
    (S.FINAL, _hold, S.ON_HOLD),
    (S.READY, _release, S.READY),
    (S.CANCELLED, _release, S.READY),
]


@pytest.mark.parametrize(
    ("status", "call", "target"),
    ILLEGAL_CALLS,
    ids=[f"{call.__name__.strip('_')}-from-{status}" for status, call, _ in ILLEGAL_CALLS],
)
def test_an_illegal_transition_raises_and_writes_nothing(
    journey, django_capture_on_commit_callbacks, status, call, target
):
    study = journey.study(status)
    before = snapshot(study)

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(IllegalTransition) as excinfo,
    ):
        call(journey, study)

    assert f"from {status} to {target}" in str(excinfo.value)
    assert (excinfo.value.from_status, excinfo.value.to_status) == (status, target)
    assert snapshot(study) == before
    assert callbacks == []  # nothing is broadcast for a refused transition


# --- the database constraint --------------------------------------------------------------------


def test_the_database_refuses_a_second_active_assignment_for_a_study(journey, other_radiologist):
    study = journey.study(S.ASSIGNED)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            study=study,
            radiologist=other_radiologist,
            kind=Assignment.Kind.MANUAL,
            assigned_at=timezone.now(),
        )

    assert len(active_assignments(study)) == 1


def test_ended_assignments_do_not_count_against_the_one_active_assignment(
    journey, other_radiologist
):
    study = journey.study(S.ASSIGNED)
    Assignment.objects.filter(study=study).update(ended_at=timezone.now())

    for _ in range(2):
        Assignment.objects.create(
            study=study,
            radiologist=other_radiologist,
            kind=Assignment.Kind.MANUAL,
            assigned_at=timezone.now(),
            ended_at=timezone.now(),
        )
    Assignment.objects.create(
        study=study,
        radiologist=other_radiologist,
        kind=Assignment.Kind.MANUAL,
        assigned_at=timezone.now(),
    )

    assert len(active_assignments(study)) == 1
    assert Assignment.objects.filter(study=study).count() == 4


# --- broadcasts after commit --------------------------------------------------------------------


def test_a_transition_is_broadcast_only_after_commit(journey, django_capture_on_commit_callbacks):
    study = journey.study(S.READY)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.study_assign(study_id=study.id, radiologist_id=journey.holder.id, actor=SYSTEM)

    assert len(callbacks) == 1


def test_the_broadcast_reaches_the_sites_group_after_commit(
    journey, site_a, django_capture_on_commit_callbacks
):
    study = journey.study(S.READY)

    with GroupListener(site_group(site_a.id)) as sockets:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            services.study_assign(study_id=study.id, radiologist_id=journey.holder.id, actor=SYSTEM)
        [message] = sockets.messages(at_least=1)

    assert len(callbacks) == 1
    assert message.pop("at") > 0
    assert message == {
        "type": "study.event",
        "event": "study.status",
        "study_id": study.id,
        "status": S.ASSIGNED,
    }


def test_a_release_that_also_makes_the_study_ready_broadcasts_each_change(
    journey, django_capture_on_commit_callbacks
):
    study = journey.study(S.ORDERED)
    services.study_hold(study_id=study.id, actor=SYSTEM, reason="identity to resolve")
    Study.objects.filter(id=study.id).update(images_available=True)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.study_release_hold(study_id=study.id, actor=SYSTEM)

    # A broadcast for ORDERED and for READY, and the push routing of the READY study.
    assert len(callbacks) == 3


def test_a_study_is_only_assigned_to_a_reader_credentialed_for_its_site(journey, outsider):
    study = journey.study(S.READY)
    before = snapshot(study)

    with pytest.raises(NotEligible, match="no valid credential for alfa"):
        services.study_assign(study_id=study.id, radiologist_id=outsider.id, actor=SYSTEM)

    assert snapshot(study) == before


def test_a_study_is_not_assigned_to_an_inactive_reader(journey, other_radiologist):
    study = journey.study(S.READY)
    other_radiologist.is_active = False
    other_radiologist.save(update_fields=["is_active"])

    with pytest.raises(NotEligible, match="not an active radiologist"):
        services.study_assign(study_id=study.id, radiologist_id=other_radiologist.id, actor=SYSTEM)


def test_a_reassignment_to_a_reader_of_another_site_is_refused(journey, outsider):
    study = journey.study(S.ASSIGNED)
    before = snapshot(study)

    with pytest.raises(NotEligible):
        services.study_reassign(
            study_id=study.id, radiologist_id=outsider.id, actor=SYSTEM, reason="load"
        )

    assert snapshot(study) == before


def test_a_failing_broker_or_channel_layer_after_commit_leaves_the_transition_committed(
    site_a, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    from worklists.tasks import route_study_task

    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("broker unreachable")

    async def layer_unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("channel layer unreachable")

    monkeypatch.setattr(get_channel_layer(), "group_send", layer_unreachable)
    monkeypatch.setattr(route_study_task, "delay", unreachable)
    study = StudyFactory(site=site_a)

    with django_capture_on_commit_callbacks(execute=True):
        services.study_mark_ready(study_id=study.id, actor=Actor.system("test"))

    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert "broker unreachable" in caplog.text
    assert "could not send 1 study changes" in caplog.text
