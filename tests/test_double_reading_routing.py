"""Routing of double reading's further reads: the rules keep earlier readers (and, by policy,
their site) off a study and honour a reservation, at every tier, in push, read next (both
paths: PostgreSQL's statement, SQLite's ORM), a claim and the coordinator's assignment."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.models import DoubleRead, DoubleReadStage
from tests import factories
from tests.double_reading_support import (
    NORMAL,
    SUSPICIOUS,
    SYSTEM,
    make_cast,
    screening_study,
    sign_read,
)
from tests.test_routing_properties import NOW, POLICY, readers, studies
from worklists import routing
from worklists.actors import Actor
from worklists.models import Assignment, Shift, StudyStatus
from worklists.routing_reasons import exclusion_reason_shown
from worklists.services.claims import (
    AssigneeNotEligible,
    study_claim,
    study_claim_next,
    study_coordinator_assign,
)
from worklists.services.routing import study_route
from worklists.services.studies import NotEligible

# -- the pure rules ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    study=studies(),
    pool=st.lists(readers(), min_size=1, max_size=8, unique_by=lambda r: r.id),
    data=st.data(),
)
def test_no_tier_ever_chooses_an_excluded_reader_or_site_or_one_outside_a_reservation(
    study, pool, data
):
    ids = [r.id for r in pool]
    excluded = data.draw(st.frozensets(st.sampled_from(ids)))
    sites = data.draw(st.frozensets(st.sampled_from([10, 20, 30]), max_size=1))
    reserved = data.draw(st.frozensets(st.sampled_from(ids)))
    restricted = replace(
        study, excluded_reader_ids=excluded, excluded_site_ids=sites, reserved_for_ids=reserved
    )
    for tier in range(4):
        decision = routing.decide(restricted, pool, now=NOW, policy=POLICY, tier=tier)
        for candidate in decision.eligible:
            reader = next(r for r in pool if r.id == candidate.reader_id)
            assert reader.id not in excluded
            assert not reader.member_site_ids & sites
            assert not reserved or reader.id in reserved


@settings(max_examples=200, deadline=None)
@given(free=st.lists(studies(), min_size=1, max_size=6, unique_by=lambda s: s.id), data=st.data())
def test_read_next_never_gives_a_reader_a_study_that_keeps_them_off(free, data):
    reader_id = 7
    kept_off = data.draw(st.frozensets(st.sampled_from([s.id for s in free])))
    marked = [
        replace(s, excluded_reader_ids=frozenset({reader_id})) if s.id in kept_off else s
        for s in free
    ]
    every_pair = frozenset((w, s) for w in (1, 2, 3) for s in (10, 20, 30))
    scope = routing.Scope(modalities=frozenset({"CT", "MR", "DX"}), pairs_by_tier=(every_pair,) * 3)

    choice = routing.read_next(marked, held=(), scope=scope, reader_id=reader_id)

    if choice is not None:
        assert choice.study.id not in kept_off
        assert not {s.id for s in choice.bundle} & kept_off
    else:
        assert {s.id for s in free} <= kept_off


@pytest.mark.parametrize(
    ("reason", "bokmal"),
    [
        (routing.READ_ALREADY, "har lest denne undersøkelsen alt: lesningene er uavhengige"),
        (
            routing.SAME_SITE_AS_EARLIER_READER,
            "arbeider ved samme institusjon som en tidligere leser av undersøkelsen",
        ),
        (routing.NOT_RESERVED_FOR, "ikke blant leserne undersøkelsen er forbeholdt"),
    ],
)
def test_the_double_reading_reasons_read_in_bokmal(reason, bokmal):
    with translation.override("nb"):
        assert exclusion_reason_shown(reason) == bokmal


# -- the services --------------------------------------------------------------------------------


def only_on_shift(*readers):
    """Only ``readers`` stay on shift: the rest of the cast goes home."""
    Shift.objects.exclude(radiologist__in=readers).delete()


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_the_second_read_is_never_pushed_to_the_first_reader():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    only_on_shift(cast.reader1)

    decision = study_route(study_id=study.id, trigger="test")

    assert decision is not None
    assert decision.radiologist_id is None
    excluded = {e["id"]: e["reason"] for e in decision.trace["excluded"]}
    assert excluded[cast.reader1.id] == routing.READ_ALREADY
    study.refresh_from_db()
    assert study.status == StudyStatus.READY

    factories.shift(cast.reader2, worklists=(cast.mamma,))
    decision = study_route(study_id=study.id, trigger="test", fresh=True)
    assert decision is not None
    assert decision.radiologist_id == cast.reader2.id


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_the_policy_sends_the_second_read_to_another_site():
    cast = make_cast(second_reader_other_site=True)
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    only_on_shift(cast.reader2, cast.reader_b)

    decision = study_route(study_id=study.id, trigger="test")

    assert decision is not None
    assert decision.radiologist_id == cast.reader_b.id
    excluded = {e["id"]: e["reason"] for e in decision.trace["excluded"]}
    assert excluded[cast.reader2.id] == routing.SAME_SITE_AS_EARLIER_READER


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_the_arbitration_goes_to_a_third_reader_and_not_the_first_readers_site_rule():
    cast = make_cast(second_reader_other_site=True)
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader_b, SUSPICIOUS)
    only_on_shift(cast.reader1, cast.reader_b, cast.reader2)

    decision = study_route(study_id=study.id, trigger="test")

    # the site rule was the second read's: a colleague of the first reader may arbitrate
    assert decision is not None
    assert decision.radiologist_id == cast.reader2.id


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_a_consensus_group_takes_the_arbitration_and_nobody_else():
    cast = make_cast()
    cast.policy.consensus_readers.set([cast.arbitrator])
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)
    only_on_shift(cast.reader_b)

    decision = study_route(study_id=study.id, trigger="test")
    assert decision is not None
    assert decision.radiologist_id is None
    excluded = {e["id"]: e["reason"] for e in decision.trace["excluded"]}
    assert excluded[cast.reader_b.id] == routing.NOT_RESERVED_FOR

    factories.shift(cast.arbitrator, worklists=(cast.mamma,))
    decision = study_route(study_id=study.id, trigger="test", fresh=True)
    assert decision is not None
    assert decision.radiologist_id == cast.arbitrator.id


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_read_next_never_gives_the_first_reader_the_second_read():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    mine = study_claim_next(radiologist_id=cast.reader1.id, actor=Actor.for_user(cast.reader1.user))
    assert mine is None

    theirs = study_claim_next(
        radiologist_id=cast.reader2.id, actor=Actor.for_user(cast.reader2.user)
    )
    assert theirs is not None
    assert theirs.study_ids == [study.id]
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist == cast.reader2


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_read_next_keeps_the_first_readers_site_off_when_the_policy_says_so():
    cast = make_cast(second_reader_other_site=True)
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    colleague = study_claim_next(
        radiologist_id=cast.reader2.id, actor=Actor.for_user(cast.reader2.user)
    )
    assert colleague is None
    other_site = study_claim_next(
        radiologist_id=cast.reader_b.id, actor=Actor.for_user(cast.reader_b.user)
    )
    assert other_site is not None
    assert other_site.study_ids == [study.id]


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_read_next_keeps_a_reserved_arbitration_for_the_group():
    cast = make_cast()
    cast.policy.consensus_readers.set([cast.arbitrator])
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)

    outside = study_claim_next(
        radiologist_id=cast.reader_b.id, actor=Actor.for_user(cast.reader_b.user)
    )
    assert outside is None
    member = study_claim_next(
        radiologist_id=cast.arbitrator.id, actor=Actor.for_user(cast.arbitrator.user)
    )
    assert member is not None
    assert member.study_ids == [study.id]
    assert DoubleRead.objects.get(study=study).stage == DoubleReadStage.ARBITRATION


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_the_first_reader_cannot_claim_the_second_read():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    with pytest.raises(NotEligible):
        study_claim(
            study_id=study.id,
            radiologist_id=cast.reader1.id,
            actor=Actor.for_user(cast.reader1.user),
        )

    assert not Assignment.objects.filter(study=study, ended_at__isnull=True).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_no_coordinator_can_give_the_second_read_to_the_first_reader():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    with pytest.raises(AssigneeNotEligible):
        study_coordinator_assign(
            study_id=study.id,
            radiologist_id=cast.reader1.id,
            actor=Actor.for_user(cast.coordinator),
            reason="short of readers",
        )

    assert not Assignment.objects.filter(study=study, ended_at__isnull=True).exists()
    # another reader is an ordinary assignment
    study_coordinator_assign(
        study_id=study.id,
        radiologist_id=cast.reader2.id,
        actor=Actor.for_user(cast.coordinator),
        reason="short of readers",
    )
    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist == cast.reader2


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_the_chooser_offers_no_override_to_the_first_reader_of_a_second_read(client):
    from django.urls import reverse

    from worklists.console.candidates import study_candidates

    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    chooser = study_candidates(user=cast.coordinator, study_id=study.id)

    first = next(c for c in chooser.readers if c.radiologist.id == cast.reader1.id)
    assert not first.eligible
    assert not first.overridable
    assert cast.reader1.id not in [c.radiologist.id for c in chooser.overrides]
    client.force_login(cast.coordinator)
    api = client.get(reverse("api-study-candidates", args=[study.id])).json()
    row = next(r for r in api["readers"] if r["load"]["reader"]["id"] == cast.reader1.id)
    assert (row["eligible"], row["overridable"]) == (False, False)


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_a_coordinator_may_override_an_arbitrations_reservation_but_never_give_it_to_a_reader():
    from worklists.console.candidates import study_candidates

    cast = make_cast()
    cast.policy.consensus_readers.set([cast.arbitrator])
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader_b, SUSPICIOUS)  # they disagree: an arbitration, reserved
    coordinator = Actor.for_user(cast.coordinator)

    chooser = study_candidates(user=cast.coordinator, study_id=study.id)
    verdicts = {c.radiologist.id: c for c in chooser.readers}
    assert not verdicts[cast.reader2.id].eligible
    assert verdicts[cast.reader2.id].overridable  # the consensus group is away: an override
    assert not verdicts[cast.reader1.id].overridable
    with pytest.raises(AssigneeNotEligible):
        study_coordinator_assign(
            study_id=study.id,
            radiologist_id=cast.reader1.id,
            actor=coordinator,
            reason="consensus group away",
        )

    study_coordinator_assign(
        study_id=study.id,
        radiologist_id=cast.reader2.id,
        actor=coordinator,
        reason="consensus group away",
    )

    assert Assignment.objects.get(study=study, ended_at__isnull=True).radiologist == cast.reader2


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_routing_caches")
def test_a_study_without_restrictions_costs_no_restriction_lookup(django_assert_num_queries):
    from worklists.services.routing_decisions import study_facts

    cast = make_cast()
    study = screening_study(cast)

    with django_assert_num_queries(0):
        facts = study_facts(study, now=NOW, uncovered=frozenset(), surge_tier=0)

    assert facts.excluded_reader_ids == frozenset()
    assert facts.reserved_for_ids == frozenset()
    assert SYSTEM.label == "system:test"
