"""Eligibility and ranking (worklists.routing): pure, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from worklists import routing
from worklists.routing import (
    BACKUP,
    PRIMARY,
    CredentialFacts,
    Policy,
    ReaderFacts,
    ShiftFacts,
    StudyFacts,
)

NOW = dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)
NEURO, MSK = 1, 2
SITE_A, SITE_B = 10, 20
POLICY = Policy(queue_cap_work_units=Decimal("6"))


def shift(**kwargs: object) -> ShiftFacts:
    values: dict[str, object] = {
        "id": 1,
        "starts_at": NOW - dt.timedelta(hours=2),
        "ends_at": NOW + dt.timedelta(hours=6),
    }
    values.update(kwargs)
    return ShiftFacts(**values)  # type: ignore[arg-type]


def credential(site_id: int = SITE_A, **kwargs: object) -> CredentialFacts:
    values: dict[str, object] = {
        "site_id": site_id,
        "time_zone": "Europe/Oslo",
        "valid_from": dt.date(2025, 1, 1),
        "valid_until": None,
    }
    values.update(kwargs)
    return CredentialFacts(**values)  # type: ignore[arg-type]


def reader(reader_id: int = 1, **kwargs: object) -> ReaderFacts:
    values: dict[str, object] = {
        "id": reader_id,
        "name": f"Reader {reader_id}",
        "modalities": frozenset({"CT", "MR"}),
        "competences": {NEURO: PRIMARY},
        "credentials": (credential(),),
        "shifts": (shift(),),
    }
    values.update(kwargs)
    return ReaderFacts(**values)  # type: ignore[arg-type]


def study(**kwargs: object) -> StudyFacts:
    values: dict[str, object] = {
        "id": 100,
        "site_id": SITE_A,
        "worklist_id": NEURO,
        "modality": "CT",
        "priority": "ROUTINE",
        "routing_rank": 3,
        "deadline": NOW + dt.timedelta(hours=20),
        "ready_at": NOW - dt.timedelta(hours=4),
        "patient_id": 7,
        "work_units": Decimal("1"),
    }
    values.update(kwargs)
    return StudyFacts(**values)  # type: ignore[arg-type]


def reason(r: ReaderFacts, s: StudyFacts, tier: int = 0) -> str | None:
    return routing.exclusion_reason(r, s, now=NOW, policy=POLICY, tier=tier)


def test_a_competent_credentialed_reader_on_shift_is_eligible():
    assert reason(reader(), study()) is None


def test_an_inactive_reader_is_excluded():
    assert reason(reader(is_active=False), study()) == "not an active radiologist"


def test_a_reader_not_competent_in_the_worklist_is_excluded():
    assert reason(reader(), study(worklist_id=MSK)) == "not competent in this worklist"


def test_a_backup_competence_counts_only_from_tier_1():
    backup = reader(competences={NEURO: BACKUP})
    assert reason(backup, study(), tier=0) == "backup competence (primary readers only at tier 0)"
    assert reason(backup, study(), tier=1) is None


def test_a_reader_without_a_credential_for_the_site_is_excluded():
    assert reason(reader(), study(site_id=SITE_B)) == "no credential for this site"


def test_an_expired_credential_excludes_from_the_day_after_it_ends():
    # 20:00 UTC on 26 November is 21:00 in Oslo, still the 26th there.
    last_day = reader(credentials=(credential(valid_until=dt.date(2026, 11, 26)),))
    assert reason(last_day, study()) is None
    expired = reader(credentials=(credential(valid_until=dt.date(2026, 11, 25)),))
    assert reason(expired, study()) == "credential for this site expired on 2026-11-25"


def test_credential_expiry_is_judged_on_the_sites_own_calendar_day():
    # 23:30 UTC on the 26th is already the 27th in Oslo: a credential ending the 26th has expired.
    late = NOW.replace(hour=23, minute=30)
    r = reader(credentials=(credential(valid_until=dt.date(2026, 11, 26)),))
    assert routing.exclusion_reason(r, study(), now=late, policy=POLICY, tier=0) == (
        "credential for this site expired on 2026-11-26"
    )


def test_a_revoked_or_future_credential_excludes():
    revoked = reader(credentials=(credential(revoked=True),))
    assert reason(revoked, study()) == "credential for this site revoked"
    future = reader(credentials=(credential(valid_from=dt.date(2027, 1, 1)),))
    assert reason(future, study()) == "credential for this site not valid until 2027-01-01"


def test_a_reader_who_does_not_read_the_modality_is_excluded():
    assert reason(reader(modalities=frozenset({"MR"})), study()) == "does not read CT"


def test_a_reader_off_shift_is_excluded():
    ended = shift(ends_at=NOW - dt.timedelta(minutes=1))
    assert reason(reader(shifts=(ended,)), study()) == "not on shift"
    # A shift ends at its end: the end instant is already off shift.
    assert reason(reader(shifts=(shift(ends_at=NOW),)), study()) == "not on shift"
    assert reason(reader(shifts=(shift(starts_at=NOW),)), study()) is None


def test_a_shift_for_other_worklists_or_sites_excludes_until_tier_2():
    other = reader(shifts=(shift(worklist_ids=frozenset({MSK})),))
    assert reason(other, study()) == "on shift, but not for this worklist and site"
    assert reason(other, study(), tier=1) == "on shift, but not for this worklist and site"
    assert reason(other, study(), tier=2) is None
    elsewhere = reader(shifts=(shift(site_ids=frozenset({SITE_B})),))
    assert reason(elsewhere, study()) == "on shift, but not for this worklist and site"


def test_a_backup_shift_counts_only_from_tier_1():
    backup = reader(shifts=(shift(role=BACKUP),))
    assert reason(backup, study()) == "backup on this shift (primary readers only at tier 0)"
    assert reason(backup, study(), tier=1) is None


def test_the_queue_cap_excludes_a_full_reader_but_not_for_stat_or_critical():
    full = reader(queue_work_units=Decimal("5.5"))
    assert reason(full, study()) == "queue full (5.50 + 1.00 of 6.00 work units)"
    assert reason(full, study(priority="STAT", routing_rank=0)) is None
    assert reason(full, study(is_critical=True)) is None
    # An empty queue always takes one study, even one larger than the cap.
    assert reason(reader(), study(work_units=Decimal("8"))) is None


def test_outside_the_coverage_window_only_the_sites_own_readers_are_eligible():
    closed = study(site_covered=False)
    assert reason(reader(), closed) == "outside the site's coverage window: its own readers read it"
    assert reason(reader(member_site_ids=frozenset({SITE_A})), closed) is None


def test_the_decision_lists_every_reader_eligible_with_scores_or_excluded_with_the_reason():
    readers = [
        reader(1),
        reader(2, modalities=frozenset({"MR"})),
        reader(3, shift_work_units=Decimal("4")),
        reader(4, competences={}),
    ]
    decision = routing.decide(study(), readers, now=NOW, policy=POLICY)
    assert [c.reader_id for c in decision.eligible] == [1, 3]
    assert {e.reader_id: e.reason for e in decision.excluded} == {
        2: "does not read CT",
        4: "not competent in this worklist",
    }
    trace = decision.trace()
    assert trace["chosen"] == 1
    assert trace["eligible"][0]["id"] == 1
    assert set(trace["eligible"][0]) >= {"score", "bundled", "stat_load", "balance"}


def test_a_reader_already_holding_the_patients_study_gets_the_next_one():
    holder = reader(2, held_patient_ids=frozenset({7}), shift_work_units=Decimal("10"))
    decision = routing.decide(study(), [reader(1), holder], now=NOW, policy=POLICY)
    assert decision.chosen is not None
    assert decision.chosen.reader_id == 2


def test_a_stat_study_goes_to_the_reader_holding_fewer_stat_studies():
    busy = reader(1, stat_held=2)
    free = reader(2, stat_held=0, shift_work_units=Decimal("5"))
    decision = routing.decide(
        study(priority="STAT", routing_rank=0), [busy, free], now=NOW, policy=POLICY
    )
    assert decision.chosen is not None
    assert decision.chosen.reader_id == 2


def test_work_units_against_target_with_the_deficit_carried_over_rank_readers():
    ahead = reader(
        1, shift_work_units=Decimal("6"), shifts=(shift(target_work_units=Decimal("20")),)
    )
    behind = reader(
        2,
        shift_work_units=Decimal("6"),
        shifts=(shift(target_work_units=Decimal("20"), carried_deficit=Decimal("4")),),
    )
    decision = routing.decide(study(), [ahead, behind], now=NOW, policy=POLICY)
    assert decision.chosen is not None
    assert decision.chosen.reader_id == 2


def test_a_released_study_is_not_routed_back_to_the_reader_who_let_it_go():
    decision = routing.decide(
        study(), [reader(1), reader(2)], now=NOW, policy=POLICY, exclude_ids=frozenset({1})
    )
    assert decision.chosen is not None
    assert decision.chosen.reader_id == 2


def test_decisions_need_an_aware_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        routing.decide(study(), [reader()], now=NOW.replace(tzinfo=None), policy=POLICY)


def test_read_next_gives_the_first_study_in_reading_order_and_the_same_patients_others():
    r = reader()
    scope = routing.reader_scope(
        r, now=NOW, site_ids=[SITE_A], covered_site_ids=frozenset({SITE_A})
    )
    later = study(id=1, deadline=NOW + dt.timedelta(hours=9), patient_id=1)
    sooner = study(id=2, deadline=NOW + dt.timedelta(hours=2), patient_id=2)
    stat = study(id=3, priority="STAT", routing_rank=0, deadline=NOW + dt.timedelta(hours=12))
    sibling = replace(sooner, id=4, deadline=NOW + dt.timedelta(hours=30))
    mr_elsewhere = study(id=5, routing_rank=0, site_id=SITE_B)
    picked = routing.read_next([later, sooner, stat, sibling, mr_elsewhere], held=[], scope=scope)
    assert picked is not None
    assert (picked.study.id, picked.from_queue, picked.bundle) == (3, False, ())
    picked = routing.read_next([later, sooner, sibling], held=[], scope=scope)
    assert picked is not None
    assert [picked.study.id, *(s.id for s in picked.bundle)] == [2, 4]


def test_read_next_takes_a_queued_stat_before_any_routine_pool_study():
    r = reader()
    scope = routing.reader_scope(
        r, now=NOW, site_ids=[SITE_A], covered_site_ids=frozenset({SITE_A})
    )
    pool_routine = study(id=1, deadline=NOW + dt.timedelta(minutes=30))
    queued_stat = study(
        id=2, priority="STAT", routing_rank=0, deadline=NOW + dt.timedelta(minutes=50)
    )
    picked = routing.read_next([pool_routine], held=[queued_stat], scope=scope)
    assert picked is not None
    assert (picked.study.id, picked.from_queue) == (2, True)


def test_read_next_takes_a_more_urgent_pool_study_before_a_queued_routine_one():
    r = reader()
    scope = routing.reader_scope(
        r, now=NOW, site_ids=[SITE_A], covered_site_ids=frozenset({SITE_A})
    )
    queued = study(id=1, deadline=NOW + dt.timedelta(hours=9))
    pool_stat = study(id=2, priority="STAT", routing_rank=0, deadline=NOW + dt.timedelta(hours=1))
    picked = routing.read_next([pool_stat], held=[queued], scope=scope)
    assert picked is not None
    assert (picked.study.id, picked.from_queue) == (2, False)
    nothing_free = routing.read_next([], held=[queued], scope=scope)
    assert nothing_free is not None
    assert (nothing_free.study.id, nothing_free.from_queue) == (1, True)
    assert routing.read_next([], held=[], scope=scope) is None


def test_a_scope_holds_until_the_end_of_the_shift_or_of_a_credentials_last_day():
    on_shift = reader()
    last_day_today = reader(credentials=(credential(valid_until=NOW.date()),))

    assert routing.facts_change_by_clock(on_shift, now=NOW) == NOW + dt.timedelta(hours=6)
    # 20:00 UTC is 21:00 in Oslo: the last day ends at Oslo's midnight, 23:00 UTC
    assert routing.facts_change_by_clock(
        replace(last_day_today, shifts=()), now=NOW
    ) == dt.datetime(2026, 11, 26, 23, 0, tzinfo=dt.UTC)


def test_a_credential_valid_to_the_last_representable_day_never_ends_a_scope():
    forever = reader(shifts=(), credentials=(credential(valid_until=dt.date.max),))

    assert routing.facts_change_by_clock(forever, now=NOW) is None
