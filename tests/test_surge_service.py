"""Surge mode (worklists.services.surges): a coordinator widens eligibility at once to the next
escalation tier, for one worklist or all, with a reason and an end time; it ends by itself and
every start and end is an event. Read next runs the claim statement on PostgreSQL and the same
rules through worklists.routing on SQLite: the eligibility tests below run both."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from tests import factories
from tests.live_support import GroupListener
from worklists import live, routing
from worklists.actors import Actor
from worklists.models import (
    Assignment,
    Radiologist,
    RoutingDecision,
    Shift,
    Study,
    StudyEvent,
    StudyStatus,
    Surge,
    SurgeEvent,
    Worklist,
)
from worklists.services.claims import study_claim, study_claim_next, study_open
from worklists.services.studies import NotEligible
from worklists.services.surges import (
    SURGE_EVENT,
    NotCoordinator,
    SurgeAlreadyEnded,
    SurgeRefused,
    surge_end,
    surge_start,
    surges_expire,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def boss(coordinator):
    return Actor.for_user(coordinator)


@pytest.fixture
def backup(site_a, neuro):
    """On a shift for neuro now, but competent in neuro as a backup reader only."""
    rad = factories.RadiologistFactory(user__username="backup")
    factories.credential(rad, site_a)
    factories.competence(rad, neuro, level="BACKUP")
    factories.shift(rad, worklists=(neuro,))
    return rad


@pytest.fixture
def msk(db):
    return factories.WorklistFactory(code="msk", name="Muskel og skjelett")


def as_reader(reader: Radiologist) -> Actor:
    return Actor(user_id=reader.user_id, label=reader.user.username)


def start(boss: Actor, worklist: Worklist | None, **kwargs: object) -> Surge:
    now = timezone.now()
    params: dict[str, object] = {
        "actor": boss,
        "worklist_id": worklist.id if worklist else None,
        "tier": None,
        "reason": "two CT scanners' backlog after the outage",
        "ends_at": now + 2 * HOUR,
    }
    params.update(kwargs)
    return surge_start(**params)  # type: ignore[arg-type]


def an_hour_ago_for_an_hour(boss: Actor, worklist: Worklist | None, **kwargs: object) -> Surge:
    """A surge that ran from two hours ago until a minute ago: its time has passed."""
    now = timezone.now()
    return start(boss, worklist, now=now - 2 * HOUR, ends_at=now - dt.timedelta(minutes=1))


# --- widens eligibility ------------------------------------------------------------------------


def test_a_backup_reader_gets_a_primary_tier_study_during_a_surge_and_not_before(
    backup, site_a, neuro, boss
):
    study = factories.ready_study(site_a, neuro)
    assert study.escalation_tier == routing.TIER_PRIMARY

    assert study_claim_next(radiologist_id=backup.id, actor=as_reader(backup)) is None

    surge = start(boss, neuro)
    claimed = study_claim_next(radiologist_id=backup.id, actor=as_reader(backup))

    assert surge.tier == routing.TIER_BACKUP
    assert claimed is not None
    assert claimed.study_ids == [study.id]
    # the study's own tier is untouched; the claim records the tier it was taken at
    assert Study.objects.get(id=study.id).escalation_tier == routing.TIER_PRIMARY
    event = StudyEvent.objects.get(study=study, to_status=StudyStatus.ASSIGNED)
    assert event.data["tier"] == routing.TIER_BACKUP


def test_after_its_end_time_the_backup_reader_may_not_have_it_again(backup, site_a, neuro, boss):
    study = factories.ready_study(site_a, neuro)
    ran = an_hour_ago_for_an_hour(boss, neuro)

    assert ran.ended_at is None  # nothing recorded the end yet: the time alone ends it
    assert study_claim_next(radiologist_id=backup.id, actor=as_reader(backup)) is None
    with pytest.raises(NotEligible, match="backup competence"):
        study_claim(study_id=study.id, radiologist_id=backup.id, actor=as_reader(backup))
    assert Study.objects.get(id=study.id).status == StudyStatus.READY


def test_claiming_one_study_honours_the_surge_and_records_its_tier(backup, site_a, neuro, boss):
    study = factories.ready_study(site_a, neuro)
    with pytest.raises(NotEligible):
        study_claim(study_id=study.id, radiologist_id=backup.id, actor=as_reader(backup))

    start(boss, neuro)
    study_claim(study_id=study.id, radiologist_id=backup.id, actor=as_reader(backup))

    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == backup.id
    assert RoutingDecision.objects.get(study=study).tier == routing.TIER_BACKUP


def test_a_surge_of_one_worklist_widens_only_that_worklist(backup, site_a, neuro, msk, boss):
    factories.competence(backup, msk, level="BACKUP")
    Shift.objects.get(radiologist=backup).worklists.add(msk)
    other = factories.ready_study(site_a, msk)

    start(boss, neuro)

    assert study_claim_next(radiologist_id=backup.id, actor=as_reader(backup)) is None
    assert Study.objects.get(id=other.id).status == StudyStatus.READY


def test_a_surge_of_every_worklist_widens_each_of_them(backup, site_a, neuro, msk, boss):
    factories.competence(backup, msk, level="BACKUP")
    Shift.objects.get(radiologist=backup).worklists.add(msk)
    first = factories.ready_study(site_a, msk, deadline=timezone.now() + HOUR)
    second = factories.ready_study(site_a, neuro, deadline=timezone.now() + 2 * HOUR)

    surge = start(boss, None)
    claimed = []
    for _ in range(2):
        claim = study_claim_next(radiologist_id=backup.id, actor=as_reader(backup))
        assert claim is not None
        claimed.append(claim.study_id)
        study_open(study_id=claim.study_id, radiologist_id=backup.id, actor=as_reader(backup))

    assert (surge.worklist_id, surge.tier) == (None, routing.TIER_BACKUP)
    assert claimed == [first.id, second.id]


def test_the_next_tier_goes_to_backup_readers_then_every_competent_reader_then_no_further(
    site_a, neuro, msk, boss
):
    # competent in neuro as a primary reader, but on shift for MSK only: tier 2 lets them
    reader = factories.RadiologistFactory(user__username="elsewhere")
    factories.credential(reader, site_a)
    factories.competence(reader, neuro)
    factories.shift(reader, worklists=(msk,))
    study = factories.ready_study(site_a, neuro)

    first = start(boss, neuro)
    assert study_claim_next(radiologist_id=reader.id, actor=as_reader(reader)) is None
    second = start(boss, neuro)
    claimed = study_claim_next(radiologist_id=reader.id, actor=as_reader(reader))

    assert (first.tier, second.tier) == (routing.TIER_BACKUP, routing.TIER_POOL)
    assert claimed is not None
    assert claimed.study_ids == [study.id]
    with pytest.raises(SurgeRefused, match="every competent reader") as refused:
        start(boss, neuro)
    assert refused.value.field == "tier"


def test_a_worklist_surge_goes_one_tier_above_a_surge_of_every_worklist(neuro, boss):
    start(boss, None)  # every worklist to backup readers
    assert start(boss, neuro).tier == routing.TIER_POOL


def test_a_new_surge_for_the_same_worklist_supersedes_the_running_one(neuro, boss, coordinator):
    first = start(boss, neuro)
    second = start(boss, neuro, tier=routing.TIER_BACKUP, reason="narrower, longer")

    first.refresh_from_db()
    assert (first.end_reason, first.ended_by_id) == (Surge.EndReason.SUPERSEDED, coordinator.pk)
    assert first.ended_at == second.started_at
    assert Surge.objects.filter(ended_at__isnull=True).get() == second
    assert list(SurgeEvent.objects.filter(surge=first).values_list("action", flat=True)) == [
        "started",
        "superseded",
    ]


def test_a_push_during_a_surge_gives_the_study_to_a_backup_reader_and_says_so(
    backup, site_a, neuro, boss
):
    from worklists.services.routing import study_route

    start(boss, neuro)
    study = factories.ready_study(site_a, neuro)

    decision = study_route(study_id=study.id, trigger="study.ready")

    assert decision is not None
    assert decision.radiologist_id == backup.id
    assert (decision.tier, decision.trace["surge_tier"]) == (routing.TIER_BACKUP, 1)


def test_starting_a_surge_pushes_the_waiting_studies_to_the_readers_it_made_eligible(
    backup, site_a, neuro, boss, django_capture_on_commit_callbacks
):
    waiting = factories.ready_study(site_a, neuro)

    with django_capture_on_commit_callbacks(execute=True):
        start(boss, neuro)

    held = Assignment.objects.get(study=waiting, ended_at__isnull=True)
    assert (held.radiologist_id, held.kind) == (backup.id, Assignment.Kind.PUSH)
    assert RoutingDecision.objects.get(study=waiting).trigger == "surge.started"


# --- ends by itself ----------------------------------------------------------------------------


def test_routing_counts_a_surge_until_its_end_time_and_not_after():
    now = timezone.now()
    surges = (
        routing.SurgeFacts(worklist_id=7, tier=routing.TIER_BACKUP, ends_at=now + HOUR),
        routing.SurgeFacts(worklist_id=None, tier=routing.TIER_POOL, ends_at=now + HOUR / 4),
    )

    assert routing.running_surge_tier(surges, worklist_id=7, now=now) == routing.TIER_POOL
    assert routing.running_surge_tier(surges, worklist_id=8, now=now) == routing.TIER_POOL
    later = now + 0.5 * HOUR  # the surge of every worklist has ended, neuro's has not
    assert routing.running_surge_tier(surges, worklist_id=7, now=later) == routing.TIER_BACKUP
    assert routing.running_surge_tier(surges, worklist_id=8, now=later) == routing.TIER_PRIMARY
    assert routing.running_surge_tier(surges, worklist_id=7, now=now + HOUR) == 0


def test_the_sweep_records_the_end_of_a_surge_past_its_time_once(neuro, boss):
    ran = an_hour_ago_for_an_hour(boss, neuro)
    running = start(boss, None)

    assert surges_expire() == [ran.id]
    assert surges_expire() == []

    ran.refresh_from_db()
    assert (ran.ended_at, ran.end_reason, ran.ended_by_id) == (
        ran.ends_at,
        Surge.EndReason.EXPIRED,
        None,
    )
    ended = SurgeEvent.objects.get(surge=ran, action=SurgeEvent.Action.EXPIRED)
    assert (ended.at, ended.actor_label) == (ran.ends_at, "system:surges")
    assert Surge.objects.get(id=running.id).ended_at is None


def test_a_surge_past_its_time_is_recorded_expired_when_a_new_one_starts(neuro, boss):
    ran = an_hour_ago_for_an_hour(boss, neuro)

    fresh = start(boss, neuro)

    ran.refresh_from_db()
    assert ran.end_reason == Surge.EndReason.EXPIRED
    assert fresh.tier == routing.TIER_BACKUP  # the next tier above nothing running


# --- ending early ------------------------------------------------------------------------------


def test_ending_a_surge_early_narrows_at_once_and_twice_is_a_conflict(
    backup, site_a, neuro, boss, coordinator
):
    factories.ready_study(site_a, neuro)
    surge = start(boss, neuro)

    ended = surge_end(actor=boss, surge_id=surge.id)

    assert (ended.end_reason, ended.ended_by_id) == (Surge.EndReason.ENDED, coordinator.pk)
    assert study_claim_next(radiologist_id=backup.id, actor=as_reader(backup)) is None
    with pytest.raises(SurgeAlreadyEnded):
        surge_end(actor=boss, surge_id=surge.id)
    assert SurgeEvent.objects.filter(surge=surge, action="ended").count() == 1


# --- evented -----------------------------------------------------------------------------------


def test_a_start_and_an_end_are_history_rows_with_who_and_why(neuro, boss, coordinator):
    surge = start(boss, neuro, reason="  outage at Alfa  ")
    surge_end(actor=boss, surge_id=surge.id)

    assert surge.reason == "outage at Alfa"
    assert list(
        SurgeEvent.objects.filter(surge=surge).values_list("action", "actor_id", "note")
    ) == [("started", coordinator.pk, "outage at Alfa"), ("ended", coordinator.pk, "")]


def test_every_live_page_hears_of_a_start_and_an_end_after_commit_and_of_a_rollback_nothing(
    neuro, boss, django_capture_on_commit_callbacks
):
    def start_then_roll_back() -> None:
        with transaction.atomic():
            start(boss, None)
            raise RuntimeError("rolled back")

    with GroupListener(live.EVERYONE_GROUP) as pages:
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
            start_then_roll_back()
        assert pages.messages(quiet=0.3) == []
        with django_capture_on_commit_callbacks(execute=True):
            surge = start(boss, neuro)
            surge_end(actor=boss, surge_id=surge.id)
        heard = pages.messages(at_least=2)

    assert Surge.objects.filter(worklist__isnull=True).count() == 0
    assert [(m["type"], m["event"], m["data"]) for m in heard] == [
        (live.NOTICE_TYPE, SURGE_EVENT, {"surge_id": surge.id}),
        (live.NOTICE_TYPE, SURGE_EVENT, {"surge_id": surge.id}),
    ]


def test_nothing_is_sent_before_the_transaction_commits(neuro, boss):
    with GroupListener(live.EVERYONE_GROUP) as pages, transaction.atomic():
        start(boss, neuro)
        assert pages.messages(quiet=0.3) == []


# --- refusals ----------------------------------------------------------------------------------


def test_only_coordinators_start_or_end_a_surge(owner, site_user, neuro, boss):
    surge = start(boss, neuro)
    for user in (owner.user, site_user):
        with pytest.raises(NotCoordinator):
            start(Actor.for_user(user), neuro)
        with pytest.raises(NotCoordinator):
            surge_end(actor=Actor.for_user(user), surge_id=surge.id)
    with pytest.raises(NotCoordinator):
        start(Actor.system("anyone"), None)
    assert Surge.objects.count() == 1
    assert Surge.objects.get().ended_at is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reason": "   "}, "reason", "needs a reason"),
        ({"ends_at": -HOUR}, "ends_at", "in the future"),
        ({"ends_at": 13 * HOUR}, "ends_at", "at most 12 hours"),
        ({"tier": 3}, "tier", "backup readers or every competent reader"),
        ({"worklist_id": 999_999}, "worklist_id", "No such worklist"),
    ],
)
def test_a_surge_is_refused_with_the_field_and_why(neuro, boss, settings, changes, field, message):
    settings.CONSOLE_SURGE_MAX_HOURS = 12
    params = dict(changes)
    if "ends_at" in params:
        params["ends_at"] = timezone.now() + params["ends_at"]
    with pytest.raises(SurgeRefused, match=message) as refused:
        start(boss, neuro, **params)
    assert refused.value.field == field
    assert Surge.objects.count() == 0
    assert SurgeEvent.objects.count() == 0


def test_the_coordinators_chooser_counts_a_backup_reader_eligible_during_a_surge(
    backup, site_a, neuro, boss
):
    from worklists.services.routing_decisions import coordinator_verdicts

    study = factories.ready_study(site_a, neuro)
    before = coordinator_verdicts(study, [backup.id], now=timezone.now())
    start(boss, neuro)
    during = coordinator_verdicts(study, [backup.id], now=timezone.now())

    assert isinstance(before[backup.id], routing.Exclusion)
    assert isinstance(during[backup.id], routing.Candidate)
