"""Claims: read next (both database paths), claiming one study, release, coordinator assignment,
claim_touch and idle expiry."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from tests.live_support import GroupListener
from worklists import live, queries, routing, selectors
from worklists.actors import Actor
from worklists.lifecycle import IllegalTransition
from worklists.models import (
    Assignment,
    Credential,
    Radiologist,
    ReaderFactsVersion,
    RoutingDecision,
    Shift,
    Site,
    SiteMembership,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.queries import READ_NEXT_RULE
from worklists.services.claims import (
    HeldByAnother,
    claim_touch,
    claims_expire,
    study_claim,
    study_claim_next,
    study_coordinator_assign,
    study_release,
)
from worklists.services.routing import forget_coverage_cache
from worklists.services.routing_decisions import reader_pull_scope
from worklists.services.studies import (
    NotEligible,
    NotTheHolder,
    ReasonRequired,
    study_start_reading,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_coverage():
    forget_coverage_cache()


def actor_of(rad) -> Actor:
    return Actor(user_id=rad.user_id, label=rad.user.username)


@pytest.fixture
def reader(owner, neuro):
    factories.shift(owner, worklists=(neuro,))
    return owner


def read_and_open(reader):
    """Read next, then open the study for reading, as the reading page does."""
    claimed = study_claim_next(radiologist_id=reader.id, actor=actor_of(reader))
    if claimed is not None:
        study_start_reading(
            study_id=claimed.study_id, radiologist_id=reader.id, actor=actor_of(reader)
        )
    return claimed


def test_read_next_twice_without_opening_gives_the_same_study_and_claims_no_second(
    reader, site_a, neuro
):
    first = factories.ready_study(site_a, neuro)
    factories.ready_study(site_a, neuro)

    claimed = study_claim_next(radiologist_id=reader.id, actor=actor_of(reader))
    again = study_claim_next(radiologist_id=reader.id, actor=actor_of(reader))

    assert claimed is not None
    assert again is not None
    assert (claimed.study_ids, claimed.from_queue) == ([first.id], False)
    assert (again.study_ids, again.from_queue) == ([first.id], True)
    assert Assignment.objects.filter(radiologist=reader, ended_at__isnull=True).count() == 1


def test_read_next_claims_the_most_urgent_study_the_reader_may_take(reader, site_a, neuro):
    now = timezone.now()
    later = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=9))
    sooner = factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=2))
    stat = factories.ready_study(
        site_a, neuro, priority="STAT", deadline=now + dt.timedelta(hours=12)
    )
    factories.ready_study(site_a, neuro, modality="XA", routing_rank=0)  # not a modality read

    first = read_and_open(reader)
    second = read_and_open(reader)
    third = read_and_open(reader)

    assert [c.study_id for c in (first, second, third)] == [stat.id, sooner.id, later.id]
    assert study_claim_next(radiologist_id=reader.id, actor=actor_of(reader)) is None
    assignment = Assignment.objects.get(study=stat, ended_at__isnull=True)
    assert (assignment.radiologist_id, assignment.kind) == (reader.id, Assignment.Kind.PULL)
    assert assignment.last_activity_at is not None
    event = StudyEvent.objects.get(study=stat, to_status=StudyStatus.ASSIGNED)
    assert (event.from_status, event.reason, event.actor_id) == (
        StudyStatus.READY,
        "read next",
        reader.user_id,
    )
    # the claim's decision is stored once, in its event, and read back as a decision
    assert event.data == {
        "decision": "read_next",
        "radiologist_id": reader.id,
        "kind": "PULL",
        "tier": 0,
        "bundled": False,
        "rule": READ_NEXT_RULE,
    }
    assert not RoutingDecision.objects.filter(study=stat).exists()
    [decision] = selectors.routing_decisions(study=stat)
    assert (decision.mode, decision.radiologist, decision.tier) == (
        RoutingDecision.Mode.PULL,
        reader,
        0,
    )
    assert Study.objects.get(id=stat.id).status == StudyStatus.IN_PROGRESS


def test_claiming_one_study_shows_one_decision_and_read_next_its_own(reader, site_a, neuro):
    study = factories.ready_study(site_a, neuro)
    study_claim(study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader))
    study_release(study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader))
    assert study_claim_next(radiologist_id=reader.id, actor=actor_of(reader)) is not None

    decisions = selectors.routing_decisions(study=Study.objects.get(id=study.id))

    assert [(d.mode, d.trigger) for d in decisions] == [
        (RoutingDecision.Mode.PULL, "read_next"),
        (RoutingDecision.Mode.CLAIM, "claim"),
    ]


def test_read_next_takes_the_same_patients_other_unread_studies_too(reader, site_a, neuro):
    patient = factories.PatientFactory()
    now = timezone.now()
    first = factories.ready_study(
        site_a, neuro, patient=patient, deadline=now + dt.timedelta(hours=1)
    )
    factories.ready_study(site_a, neuro, deadline=now + dt.timedelta(hours=2))
    sibling = factories.ready_study(
        site_a, neuro, patient=patient, deadline=now + dt.timedelta(hours=30)
    )

    claimed = study_claim_next(radiologist_id=reader.id, actor=actor_of(reader))

    assert claimed is not None
    assert claimed.study_ids == [first.id, sibling.id]
    assert Assignment.objects.get(study=sibling, ended_at__isnull=True).radiologist_id == reader.id
    assert StudyEvent.objects.get(study=sibling, to_status="ASSIGNED").reason == (
        "read next: same patient"
    )


@pytest.mark.parametrize(
    "spoil",
    [
        "no_shift",
        "shift_for_other_worklist",
        "credential_expired",
        "credential_revoked",
        "not_competent",
        "no_modality",
        "inactive",
    ],
)
def test_read_next_gives_nothing_the_reader_may_not_read(spoil, owner, site_a, neuro):
    shift = factories.shift(owner, worklists=(neuro,))
    factories.ready_study(site_a, neuro)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    match spoil:
        case "no_shift":
            Shift.objects.filter(id=shift.id).update(ends_at=timezone.now())
        case "shift_for_other_worklist":
            shift.worklists.set([factories.WorklistFactory(code="msk")])
        case "credential_expired":
            Credential.objects.filter(radiologist=owner).update(
                valid_from=yesterday - dt.timedelta(days=30), valid_until=yesterday
            )
        case "credential_revoked":
            Credential.objects.filter(radiologist=owner).update(revoked_at=timezone.now())
        case "not_competent":
            owner.competences.all().delete()
        case "no_modality":
            owner.modalities = ["MR"]
            owner.save(update_fields=["modalities"])
        case "inactive":
            owner.is_active = False
            owner.save(update_fields=["is_active"])

    assert study_claim_next(radiologist_id=owner.id, actor=actor_of(owner)) is None
    assert Assignment.objects.count() == 0


@pytest.mark.parametrize(
    "spoil",
    [
        "credential_revoked",
        "credential_expired",
        "shift_ended",
        "shift_moved_to_another_worklist",
        "deactivated",
        "incompetent",
        "modality_dropped",
    ],
)
def test_a_change_after_the_scope_was_cached_counts_at_once(spoil, reader, site_a, neuro):
    factories.ready_study(site_a, neuro)
    factories.ready_study(site_a, neuro)
    assert read_and_open(reader) is not None
    match spoil:
        case "credential_revoked":
            Credential.objects.filter(radiologist=reader).update(revoked_at=timezone.now())
        case "shift_ended":
            Shift.objects.filter(radiologist=reader).update(ends_at=timezone.now())
        case "deactivated":
            reader.is_active = False
            reader.save(update_fields=["is_active"])
        case "incompetent":
            reader.competences.all().delete()
        case "credential_expired":
            yesterday = timezone.localdate() - dt.timedelta(days=1)
            Credential.objects.filter(radiologist=reader).update(valid_until=yesterday)
        case "shift_moved_to_another_worklist":
            Shift.objects.get(radiologist=reader).worklists.set(
                [factories.WorklistFactory(code="msk")]
            )
        case "modality_dropped":
            Radiologist.objects.filter(id=reader.id).update(modalities=["US"])

    assert study_claim_next(radiologist_id=reader.id, actor=actor_of(reader)) is None
    assert Assignment.objects.filter(radiologist=reader).count() == 1


def test_a_cached_scope_ends_when_the_clock_ends_the_readers_shift(owner, neuro):
    now = timezone.now()
    factories.shift(owner, worklists=(neuro,), ends_at=now + dt.timedelta(minutes=10))

    built = reader_pull_scope(radiologist_id=owner.id, now=now)
    again = reader_pull_scope(radiologist_id=owner.id, now=now + dt.timedelta(minutes=9))
    after = reader_pull_scope(radiologist_id=owner.id, now=now + dt.timedelta(minutes=10))

    assert (built.cached, again.cached, after.cached) == (False, True, False)
    assert built.valid_until == now + dt.timedelta(minutes=10)
    assert not built.scope.is_empty
    assert after.scope.is_empty


def test_a_cached_scope_ends_at_the_end_of_a_credentials_last_day_on_the_sites_calendar(
    owner, site_a, neuro
):
    now = timezone.now()
    factories.shift(owner, worklists=(neuro,), ends_at=now + dt.timedelta(days=3))
    zone = zoneinfo.ZoneInfo(site_a.time_zone)
    today = now.astimezone(zone).date()
    Credential.objects.filter(radiologist=owner).update(valid_until=today)

    built = reader_pull_scope(radiologist_id=owner.id, now=now)

    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    assert built.valid_until == midnight


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="counted by PostgreSQL triggers; SQLite never caches"
)
@pytest.mark.parametrize(
    "edit",
    [
        "shift_added",
        "shift_edited",
        "shift_deleted",
        "shift_worklists",
        "shift_sites",
        "competence_added",
        "competence_deleted",
        "credential_edited",
        "reader_edited",
        "site_membership",
        "site_time_zone",
    ],
)
def test_every_kind_of_edit_to_a_readers_facts_is_counted(edit, owner, site_a, neuro):
    shift = factories.shift(owner, worklists=(neuro,))

    def count() -> int:
        row = ReaderFactsVersion.objects.filter(radiologist_id=owner.id).first()
        return row.version if row else 0

    before = count()
    match edit:
        case "shift_added":
            factories.shift(owner)
        case "shift_edited":
            Shift.objects.filter(id=shift.id).update(role=Shift.Role.BACKUP)
        case "shift_deleted":
            shift.delete()
        case "shift_worklists":
            shift.worklists.add(factories.WorklistFactory(code="msk"))
        case "shift_sites":
            shift.sites.add(site_a)
        case "competence_added":
            factories.competence(owner, factories.WorklistFactory(code="msk"))
        case "competence_deleted":
            owner.competences.all().delete()
        case "credential_edited":
            Credential.objects.filter(radiologist=owner).update(revoked_at=timezone.now())
        case "reader_edited":
            Radiologist.objects.filter(id=owner.id).update(is_active=False)
        case "site_membership":
            SiteMembership.objects.create(user=owner.user, site=site_a)
        case "site_time_zone":
            Site.objects.filter(id=site_a.id).update(time_zone="America/New_York")

    assert count() > before


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="counted by PostgreSQL triggers; SQLite never caches"
)
def test_edits_that_do_not_change_what_a_reader_may_read_are_not_counted(owner, site_a, neuro):
    shift = factories.shift(owner, worklists=(neuro,))
    before = ReaderFactsVersion.objects.get(radiologist_id=owner.id).version

    # starting a shift, saving a row unchanged, renaming a site: nothing to count, and no lock
    # taken on the reader's count that a shift import could wait on
    Shift.objects.filter(id=shift.id).update(started_at=timezone.now())
    shift.save()
    Credential.objects.filter(radiologist=owner).update(authorisation_reference="LIS-2")
    Site.objects.filter(id=site_a.id).update(name="Nytt namn")

    assert ReaderFactsVersion.objects.get(radiologist_id=owner.id).version == before


def test_a_backup_reader_reads_next_only_once_the_study_has_escalated(owner, site_a, neuro):
    factories.shift(owner, worklists=(neuro,), role=Shift.Role.BACKUP)
    study = factories.ready_study(site_a, neuro)
    assert study_claim_next(radiologist_id=owner.id, actor=actor_of(owner)) is None

    Study.objects.filter(id=study.id).update(escalation_tier=1)

    claimed = study_claim_next(radiologist_id=owner.id, actor=actor_of(owner))
    assert claimed is not None
    assert claimed.study_id == study.id


def test_read_next_costs_a_fixed_number_of_queries(reader, site_a, neuro):
    for _ in range(5):
        factories.ready_study(site_a, neuro)
    # Coverage is computed once a minute, a reader's scope kept for a short while.
    reader_pull_scope(radiologist_id=reader.id, now=timezone.now())

    with CaptureQueriesContext(connection) as queries:
        assert study_claim_next(radiologist_id=reader.id, actor=actor_of(reader)) is not None

    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    # One statement on PostgreSQL; on SQLite the same rules through worklists.routing.
    assert len(statements) <= (1 if connection.vendor == "postgresql" else 20)


def test_claiming_one_study_and_again_is_harmless_but_someone_elses_is_a_conflict(
    reader, other_radiologist, site_a, neuro
):
    factories.shift(other_radiologist, worklists=(neuro,))
    study = factories.ready_study(site_a, neuro)

    first = study_claim(study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader))
    again = study_claim(study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader))

    assert first.id == again.id
    with pytest.raises(HeldByAnother):
        study_claim(
            study_id=study.id,
            radiologist_id=other_radiologist.id,
            actor=actor_of(other_radiologist),
        )
    assert Assignment.objects.filter(study=study).count() == 1


def test_claiming_a_study_one_may_not_read_is_refused_with_the_reason(owner, site_a, neuro):
    study = factories.ready_study(site_a, neuro)  # the owner is not on shift
    with pytest.raises(NotEligible, match="not on shift"):
        study_claim(study_id=study.id, radiologist_id=owner.id, actor=actor_of(owner))
    signed = factories.ready_study(site_a, neuro, status=StudyStatus.FINAL)
    with pytest.raises(IllegalTransition):
        study_claim(study_id=signed.id, radiologist_id=owner.id, actor=actor_of(owner))


def test_release_returns_the_study_to_the_pool_and_routes_it_to_someone_else(
    reader, other_radiologist, site_a, neuro, django_capture_on_commit_callbacks
):
    factories.shift(other_radiologist, worklists=(neuro,))
    study = factories.ready_study(site_a, neuro)
    study_claim(study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader))

    with pytest.raises(NotTheHolder):
        study_release(
            study_id=study.id,
            radiologist_id=other_radiologist.id,
            actor=actor_of(other_radiologist),
        )
    with django_capture_on_commit_callbacks(execute=True):
        study_release(
            study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader), reason="lunch"
        )

    ended = Assignment.objects.get(study=study, radiologist=reader)
    assert ended.end_reason == "released: lunch"
    # Pushed on at once, not back to the reader who let it go.
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist_id == (
        other_radiologist.id
    )
    assert StudyEvent.objects.filter(study=study, to_status=StudyStatus.READY).exists()


def test_a_coordinator_assigns_and_reassigns_only_with_a_reason(
    reader, other_radiologist, outsider, site_a, neuro, coordinator
):
    study = factories.ready_study(site_a, neuro)
    actor = Actor.for_user(coordinator)
    with pytest.raises(ReasonRequired):
        study_coordinator_assign(
            study_id=study.id, radiologist_id=reader.id, actor=actor, reason="  "
        )

    study_coordinator_assign(
        study_id=study.id, radiologist_id=reader.id, actor=actor, reason="knows the patient"
    )
    study_coordinator_assign(
        study_id=study.id, radiologist_id=other_radiologist.id, actor=actor, reason="surge"
    )
    with pytest.raises(NotEligible):
        study_coordinator_assign(
            study_id=study.id, radiologist_id=outsider.id, actor=actor, reason="no credential"
        )

    active = Assignment.objects.get(study=study, ended_at__isnull=True)
    assert (active.radiologist_id, active.kind, active.reason) == (
        other_radiologist.id,
        Assignment.Kind.MANUAL,
        "surge",
    )
    decisions = list(
        RoutingDecision.objects.filter(study=study, mode=RoutingDecision.Mode.MANUAL).order_by("id")
    )
    assert [d.trace["reason"] for d in decisions] == ["knows the patient", "surge"]
    assert decisions[1].trace["previous_radiologist_id"] == reader.id


def test_claim_touch_refreshes_only_the_holders_activity(reader, other_radiologist, site_a, neuro):
    study = factories.ready_study(site_a, neuro)
    study_claim(study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader))
    later = timezone.now() + dt.timedelta(minutes=5)

    assert claim_touch(study_id=study.id, radiologist_id=reader.id, at=later) is True
    assert claim_touch(study_id=study.id, radiologist_id=other_radiologist.id) is False
    assert Assignment.objects.get(study=study).last_activity_at == later


def test_claim_touch_is_two_compare_and_set_updates_and_marks_the_reader_active(
    reader, site_a, neuro, django_assert_num_queries
):
    study = factories.ready_study(site_a, neuro)
    study_claim(study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader))
    long_ago = timezone.now() - dt.timedelta(hours=2)
    Radiologist.objects.filter(id=reader.id).update(last_active_at=long_ago)
    with django_assert_num_queries(2):
        assert claim_touch(study_id=study.id, radiologist_id=reader.id)
    assert Radiologist.objects.get(id=reader.id).last_active_at > long_ago


def test_an_idle_claim_expires_back_to_the_pool_and_an_active_one_does_not(
    reader, site_a, neuro, settings
):
    settings.ROUTING_CLAIM_IDLE_MINUTES = 20
    idle = factories.ready_study(site_a, neuro)
    busy = factories.ready_study(site_a, neuro)
    for study in (idle, busy):
        study_claim(study_id=study.id, radiologist_id=reader.id, actor=actor_of(reader))
    from worklists.services.studies import study_start_reading

    study_start_reading(study_id=idle.id, radiologist_id=reader.id, actor=actor_of(reader))
    now = timezone.now() + dt.timedelta(minutes=30)
    claim_touch(study_id=busy.id, radiologist_id=reader.id, at=now - dt.timedelta(minutes=5))

    expired = claims_expire(now=now)

    assert [e.study_id for e in expired] == [idle.id]
    idle.refresh_from_db()
    assert idle.status == StudyStatus.READY
    ended = Assignment.objects.get(study=idle)
    assert ended.end_reason == "claim expired: no activity for 20 minutes"
    assert StudyEvent.objects.filter(
        study=idle, from_status=StudyStatus.IN_PROGRESS, to_status=StudyStatus.READY
    ).exists()
    assert Study.objects.get(id=busy.id).status == StudyStatus.ASSIGNED
    assert claims_expire(now=now) == []


def test_a_pushed_study_waiting_in_a_queue_is_not_a_claim_and_does_not_expire(
    reader, site_a, neuro
):
    study = factories.ready_study(site_a, neuro)
    from worklists.services.routing import study_route

    study_route(study_id=study.id, trigger="study.ready")
    assert claims_expire(now=timezone.now() + dt.timedelta(hours=3)) == []
    assert Study.objects.get(id=study.id).status == StudyStatus.ASSIGNED


def test_scope_pair_keys_add_each_tiers_pairs_to_the_ones_below():
    scope = routing.Scope(
        modalities=frozenset({"MR", "CT"}),
        pairs_by_tier=(frozenset({(3, 1)}), frozenset({(4, 1)}), frozenset({(5, 2)})),
    )

    arrays = queries.scope_arrays(scope)

    key = queries.pair_key
    assert arrays["k0"] == f"{{{key(3, 1)}}}"
    assert arrays["k1"] == "{" + ",".join(str(k) for k in sorted([key(3, 1), key(4, 1)])) + "}"
    assert arrays["k2"] == (
        "{" + ",".join(str(k) for k in sorted([key(3, 1), key(4, 1), key(5, 2)])) + "}"
    )
    assert arrays["modalities"] == "{CT,MR}"
    assert len({key(3, 1), key(1, 3), key(3, 2)}) == 3
    with pytest.raises(ValueError, match="out of range"):
        key(1, 2**32)


def test_read_next_events_reach_the_sockets_after_commit_in_one_batch(
    reader, site_a, neuro, settings, django_capture_on_commit_callbacks
):
    settings.LIVE_BATCH_SECONDS = 60.0  # flushed below, not by the timer
    batcher = live.LiveBroadcaster()
    live._broadcaster = batcher
    try:
        with GroupListener(live.site_group(site_a.id)) as sockets:
            patient = factories.PatientFactory()
            first = factories.ready_study(site_a, neuro, patient=patient)
            sibling = factories.ready_study(site_a, neuro, patient=patient)
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                claimed = study_claim_next(radiologist_id=reader.id, actor=actor_of(reader))
            assert claimed is not None
            batcher.flush()
            assert sockets.messages() == []  # nothing before the claim has committed

            for callback in callbacks:
                callback()
            assert sockets.messages() == []  # committed: the events wait in the batch
            batcher.flush()

            messages = sockets.messages(at_least=2)
        assert sorted(m["study_id"] for m in messages) == sorted([first.id, sibling.id])
        assert {(m["event"], m["status"]) for m in messages} == {
            ("study.status", StudyStatus.ASSIGNED)
        }
    finally:
        live._broadcaster = None
        batcher.close()


def test_read_next_events_go_one_by_one_when_batching_is_off(
    reader, site_a, neuro, settings, django_capture_on_commit_callbacks
):
    settings.LIVE_BATCH_SECONDS = 0
    with GroupListener(live.site_group(site_a.id)) as sockets:
        study = factories.ready_study(site_a, neuro)
        with django_capture_on_commit_callbacks(execute=True):
            assert study_claim_next(radiologist_id=reader.id, actor=actor_of(reader))

        messages = sockets.messages(at_least=1)
    assert [(m["study_id"], m["status"]) for m in messages] == [(study.id, StudyStatus.ASSIGNED)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared on PostgreSQL only")
def test_the_read_next_statement_is_prepared_once_per_connection(reader, site_a, neuro):
    for _ in range(3):
        factories.ready_study(site_a, neuro)
    for _ in range(3):
        assert study_claim_next(radiologist_id=reader.id, actor=actor_of(reader)) is not None

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%WITH current AS%"],
        )
        prepared = cursor.fetchall()
        # Django's own queries are not prepared by repetition.
        for _ in range(10):
            cursor.execute("SELECT 1")
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT 1'")
        assert cursor.fetchone()[0] == 0
    assert len(prepared) == 1
