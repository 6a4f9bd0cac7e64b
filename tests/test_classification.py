"""Classification into a worklist by ordered rules, and the deadline from the site's contract.

The rule conditions are tested on the pure functions; ordering, activity, sites, age, the
unclassified path and the deadline are tested through study_mark_ready with the database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories import RuleFactory, StudyFactory, WorklistFactory
from worklists import classification, selectors
from worklists.actors import Actor
from worklists.classification import Rule, StudyFacts
from worklists.models import DeadlineContract, Patient, Study, StudyEvent, StudyStatus
from worklists.services.studies import study_mark_ready

UTC = dt.UTC
SYSTEM = Actor.system("test")
READY_AT = dt.datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def make_facts(**overrides: object) -> StudyFacts:
    values: dict[str, object] = {
        "site_id": 1,
        "modality": "CT",
        "body_part": "HEAD",
        "procedure_code": "NCRP-CT-HEAD",
        "procedure_text": "CT caput uten kontrast",
        "patient_age_years": 55,
    }
    values.update(overrides)
    return StudyFacts(**values)  # type: ignore[arg-type]


def make_rule(**overrides: object) -> Rule:
    values: dict[str, object] = {
        "id": 1,
        "position": 10,
        "worklist_id": 100,
        "work_units": Decimal("1.50"),
    }
    values.update(overrides)
    return Rule(**values)  # type: ignore[arg-type]


# --- conditions (pure) --------------------------------------------------------------------------


def test_a_rule_without_conditions_matches_every_study():
    assert classification.rule_matches(make_rule(), make_facts())
    assert classification.rule_matches(make_rule(), make_facts(patient_age_years=None))


@pytest.mark.parametrize(
    ("rule_modality", "study_modality", "matches"),
    [("CT", "CT", True), ("MR", "CT", False), ("CT", "MR", False)],
)
def test_the_modality_condition_needs_the_same_modality(rule_modality, study_modality, matches):
    rule = make_rule(modality=rule_modality)

    assert classification.rule_matches(rule, make_facts(modality=study_modality)) is matches


@pytest.mark.parametrize(
    ("rule_body_part", "study_body_part", "matches"),
    [
        ("HEAD", "HEAD", True),
        ("head", "HEAD", True),
        ("Head", "hEaD", True),
        ("HEAD", "NECK", False),
        ("HEAD", "", False),
        ("HEAD", "HEADNECK", False),
    ],
)
def test_the_body_part_condition_ignores_case(rule_body_part, study_body_part, matches):
    rule = make_rule(body_part=rule_body_part)

    assert classification.rule_matches(rule, make_facts(body_part=study_body_part)) is matches


@pytest.mark.parametrize(
    ("study_code", "matches"),
    [
        ("NCRP-CT-HEAD", True),
        ("ncrp-ct-head", False),
        ("NCRP-CT-HEAD2", False),
        ("NCRP-CT-HEA", False),
        ("", False),
    ],
)
def test_the_procedure_code_condition_needs_the_exact_code(study_code, matches):
    rule = make_rule(procedure_code="NCRP-CT-HEAD")

    assert classification.rule_matches(rule, make_facts(procedure_code=study_code)) is matches


@pytest.mark.parametrize(
    ("study_code", "matches"),
    [
        ("NCRP-CT-HEAD", True),
        ("NCRP-CT", True),
        ("NCRP-MR-HEAD", False),
        ("X-NCRP-CT-HEAD", False),
        ("", False),
    ],
)
def test_the_procedure_code_prefix_condition_needs_the_code_to_start_with_it(study_code, matches):
    rule = make_rule(procedure_code_prefix="NCRP-CT")

    assert classification.rule_matches(rule, make_facts(procedure_code=study_code)) is matches


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (r"caput|hode", "CT caput uten kontrast", True),
        (r"caput|hode", "CT CAPUT UTEN KONTRAST", True),
        (r"caput|hode", "MR Hode", True),
        (r"kontrast$", "CT caput uten kontrast", True),  # searched, not anchored at the start
        (r"^caput", "CT caput uten kontrast", False),
        (r"thorax", "CT caput uten kontrast", False),
        (r"c.put", "CT cAput", True),
    ],
)
def test_the_description_pattern_is_a_case_insensitive_regular_expression(pattern, text, matches):
    rule = make_rule(description_pattern=pattern)

    assert classification.rule_matches(rule, make_facts(procedure_text=text)) is matches


@pytest.mark.parametrize(
    ("min_age", "max_age", "age", "matches"),
    [
        (None, 15, 0, True),
        (None, 15, 15, True),  # max is inclusive
        (None, 15, 16, False),
        (18, None, 17, False),
        (18, None, 18, True),  # min is inclusive
        (18, None, 99, True),
        (16, 65, 16, True),
        (16, 65, 65, True),
        (16, 65, 66, False),
        (16, 65, 15, False),
    ],
)
def test_the_age_range_is_inclusive_at_both_ends(min_age, max_age, age, matches):
    rule = make_rule(min_age_years=min_age, max_age_years=max_age)

    assert classification.rule_matches(rule, make_facts(patient_age_years=age)) is matches


@pytest.mark.parametrize(("min_age", "max_age"), [(None, 15), (18, None), (0, 120)])
def test_an_unknown_age_never_matches_an_age_rule(min_age, max_age):
    rule = make_rule(min_age_years=min_age, max_age_years=max_age)

    assert not classification.rule_matches(rule, make_facts(patient_age_years=None))


def test_a_site_specific_rule_matches_only_that_sites_studies():
    rule = make_rule(site_id=7)

    assert classification.rule_matches(rule, make_facts(site_id=7))
    assert not classification.rule_matches(rule, make_facts(site_id=8))


def test_every_set_condition_must_match():
    rule = make_rule(modality="CT", body_part="head", procedure_code_prefix="NCRP-CT")

    assert classification.rule_matches(rule, make_facts())
    assert not classification.rule_matches(rule, make_facts(modality="MR"))
    assert not classification.rule_matches(rule, make_facts(body_part="CHEST"))
    assert not classification.rule_matches(rule, make_facts(procedure_code="NCRP-MR-HEAD"))


# --- order (pure) -------------------------------------------------------------------------------


def test_the_first_matching_rule_by_position_wins_whatever_order_they_are_given_in():
    late = make_rule(id=1, position=50, worklist_id=1, modality="CT")
    early = make_rule(id=2, position=10, worklist_id=2, body_part="head")
    never = make_rule(id=3, position=1, worklist_id=3, modality="MR")

    assert classification.first_matching_rule([late, early, never], make_facts()) == early
    assert classification.first_matching_rule([never, early, late], make_facts()) == early


def test_rules_at_the_same_position_are_tried_by_id():
    second = make_rule(id=2, position=10, worklist_id=2)
    first = make_rule(id=1, position=10, worklist_id=1)

    assert classification.first_matching_rule([second, first], make_facts()) == first


def test_no_matching_rule_gives_none():
    rules = [make_rule(modality="MR"), make_rule(id=2, body_part="CHEST")]

    assert classification.first_matching_rule(rules, make_facts()) is None
    assert classification.first_matching_rule([], make_facts()) is None


# --- classification through study_mark_ready (db) -----------------------------------------------


def mark_ready(study: Study, at: dt.datetime = READY_AT) -> Study:
    study_mark_ready(study_id=study.id, actor=SYSTEM, at=at)
    study.refresh_from_db()
    return study


def ready_event(study: Study) -> StudyEvent:
    return StudyEvent.objects.get(study=study, to_status=StudyStatus.READY)


@pytest.mark.django_db
def test_the_rule_with_the_lowest_position_wins_even_when_a_later_rule_also_matches(site_a, neuro):
    chest = WorklistFactory(code="chest")
    later = RuleFactory(position=20, worklist=chest, modality="CT", work_units="0.50")
    first = RuleFactory(position=10, worklist=neuro, body_part="head", work_units="1.75")
    study = StudyFactory(site=site_a, modality="CT", body_part="HEAD")

    study = mark_ready(study)

    assert study.worklist == neuro
    assert study.classification_rule_id == first.id
    assert study.classification_rule_id != later.id
    assert study.work_units == Decimal("1.75")
    assert study.is_unclassified is False
    assert ready_event(study).data["rule_id"] == first.id
    assert ready_event(study).data["worklist"] == "neuro"


@pytest.mark.django_db
def test_an_inactive_rule_is_ignored_even_at_the_first_position(site_a, neuro):
    chest = WorklistFactory(code="chest")
    RuleFactory(position=1, worklist=chest, modality="CT", is_active=False)
    active = RuleFactory(position=10, worklist=neuro, modality="CT")
    study = StudyFactory(site=site_a, modality="CT")

    study = mark_ready(study)

    assert study.worklist == neuro
    assert study.classification_rule_id == active.id


@pytest.mark.django_db
def test_a_site_specific_rule_applies_only_to_that_sites_studies(site_a, site_b, neuro):
    msk = WorklistFactory(code="msk")
    RuleFactory(position=1, worklist=msk, site=site_b, modality="CT")
    everywhere = RuleFactory(position=10, worklist=neuro, modality="CT")
    at_a = StudyFactory(site=site_a, modality="CT")
    at_b = StudyFactory(site=site_b, modality="CT")

    assert mark_ready(at_a).classification_rule_id == everywhere.id
    assert mark_ready(at_b).worklist == msk


@pytest.mark.django_db
def test_body_part_and_description_match_regardless_of_case_in_the_database(site_a, neuro):
    rule = RuleFactory(position=10, worklist=neuro, body_part="head", description_pattern="CAPUT")
    study = StudyFactory(site=site_a, body_part="Head", procedure_text="CT caput uten kontrast")

    assert mark_ready(study).classification_rule_id == rule.id


@pytest.mark.django_db
def test_the_procedure_code_and_prefix_conditions_in_the_database(site_a, neuro):
    chest = WorklistFactory(code="chest")
    RuleFactory(position=10, worklist=chest, procedure_code="NCRP-CT-THORAX")
    by_prefix = RuleFactory(position=20, worklist=neuro, procedure_code_prefix="NCRP-CT-H")
    head = StudyFactory(site=site_a, procedure_code="NCRP-CT-HEAD")
    thorax = StudyFactory(site=site_a, procedure_code="NCRP-CT-THORAX")

    assert mark_ready(head).classification_rule_id == by_prefix.id
    assert mark_ready(thorax).worklist == chest


def patient_born(birth_date: dt.date | None) -> Patient:
    return Patient.objects.create(family_name="Ålesund", given_name="Eli", birth_date=birth_date)


@pytest.mark.django_db
def test_an_age_rule_uses_the_patients_age_on_the_day_the_study_became_ready(site_a, neuro):
    paediatric = WorklistFactory(code="paed")
    child_rule = RuleFactory(position=10, worklist=paediatric, max_age_years=15)
    RuleFactory(position=20, worklist=neuro)
    day_before_16th = StudyFactory(site=site_a, patient=patient_born(dt.date(2010, 3, 11)))
    on_16th = StudyFactory(site=site_a, patient=patient_born(dt.date(2010, 3, 10)))

    assert mark_ready(day_before_16th).classification_rule_id == child_rule.id
    assert mark_ready(on_16th).worklist == neuro


@pytest.mark.django_db
def test_the_age_is_reckoned_on_the_sites_local_day(site_a, neuro):
    # 23:30 UTC on 14 March is already 15 March in Oslo, the 16th birthday.
    at = dt.datetime(2026, 3, 14, 23, 30, tzinfo=UTC)
    paediatric = WorklistFactory(code="paed")
    RuleFactory(position=10, worklist=paediatric, max_age_years=15)
    RuleFactory(position=20, worklist=neuro)
    study = StudyFactory(site=site_a, patient=patient_born(dt.date(2010, 3, 15)))

    assert mark_ready(study, at=at).worklist == neuro


@pytest.mark.django_db
def test_a_patient_of_unknown_age_never_matches_an_age_rule(site_a, neuro, general_worklist):
    RuleFactory(position=10, worklist=neuro, max_age_years=120)
    RuleFactory(position=20, worklist=neuro, min_age_years=0)
    study = StudyFactory(site=site_a, patient=patient_born(None))

    study = mark_ready(study)

    assert study.worklist == general_worklist
    assert study.is_unclassified is True


# --- the unclassified path ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_study_no_rule_matches_goes_to_the_general_worklist_as_unclassified(
    site_a, neuro, general_worklist
):
    RuleFactory(position=10, worklist=neuro, modality="MR", work_units="2.00")
    study = StudyFactory(site=site_a, modality="CT")

    study = mark_ready(study)

    assert study.status == StudyStatus.READY
    assert study.worklist == general_worklist
    assert general_worklist.is_general is True
    assert study.is_unclassified is True
    assert study.classification_rule is None
    assert study.work_units == Decimal("1.00")
    event = ready_event(study)
    assert event.data["unclassified"] is True
    assert event.data["rule_id"] is None
    assert event.data["worklist"] == general_worklist.code
    assert event.data["work_units"] == "1.00"


@pytest.mark.django_db
def test_an_unclassified_study_is_listed_by_the_unclassified_filter(
    site_a, neuro, coordinator, owner
):
    RuleFactory(position=10, worklist=neuro, modality="MR")
    unclassified = mark_ready(StudyFactory(site=site_a, modality="CT"))
    classified = mark_ready(StudyFactory(site=site_a, modality="MR"))

    for user in (coordinator, owner.user):
        rows, _ = selectors.study_list(user=user, filters={"unclassified": "1"})
        ids = [s.id for s in rows]
        assert unclassified.id in ids
        assert classified.id not in ids
        everything, _ = selectors.study_list(user=user, filters={})
        assert {unclassified.id, classified.id} <= {s.id for s in everything}


# --- deadlines ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_deadline_is_ready_at_plus_the_sites_contracted_turnaround(site_a):
    DeadlineContract.objects.create(site=site_a, priority="URGENT", turnaround_minutes=90)
    study = StudyFactory(site=site_a, priority="URGENT")

    study = mark_ready(study)

    assert study.ready_at == READY_AT
    assert study.deadline == READY_AT + dt.timedelta(minutes=90)
    data = ready_event(study).data
    assert data["deadline_source"] == "contract"
    assert dt.datetime.fromisoformat(data["deadline"]) == study.deadline


@pytest.mark.django_db
def test_a_priority_without_a_contract_row_uses_the_default_turnaround(site_a, settings):
    settings.DEFAULT_TURNAROUND_MINUTES = {**settings.DEFAULT_TURNAROUND_MINUTES, "STAT": 45}
    DeadlineContract.objects.create(site=site_a, priority="URGENT", turnaround_minutes=90)
    study = StudyFactory(site=site_a, priority="STAT")

    study = mark_ready(study)

    assert study.deadline == READY_AT + dt.timedelta(minutes=45)
    assert ready_event(study).data["deadline_source"] == "default"


@pytest.mark.django_db
def test_another_sites_contract_does_not_apply(site_a, site_b, settings):
    DeadlineContract.objects.create(site=site_b, priority="ROUTINE", turnaround_minutes=30)
    study = StudyFactory(site=site_a, priority="ROUTINE")

    study = mark_ready(study)

    default = settings.DEFAULT_TURNAROUND_MINUTES["ROUTINE"]
    assert study.deadline == READY_AT + dt.timedelta(minutes=default)
    assert ready_event(study).data["deadline_source"] == "default"


@pytest.mark.django_db
def test_the_cancer_pathway_has_its_own_contracted_turnaround(site_a):
    DeadlineContract.objects.create(site=site_a, priority="ROUTINE", turnaround_minutes=7 * 1440)
    DeadlineContract.objects.create(
        site=site_a, priority="CANCER_PATHWAY", turnaround_minutes=2 * 1440
    )
    cancer = StudyFactory(site=site_a, priority="CANCER_PATHWAY")
    routine = StudyFactory(site=site_a, priority="ROUTINE")

    assert mark_ready(cancer).deadline == READY_AT + dt.timedelta(days=2)
    assert mark_ready(routine).deadline == READY_AT + dt.timedelta(days=7)
    assert ready_event(cancer).data["deadline_source"] == "contract"


def test_deadline_for_prefers_the_contract_over_the_default():
    deadline, source = classification.deadline_for(
        ready_at=READY_AT,
        priority="URGENT",
        contract_minutes={"URGENT": 120},
        default_minutes={"URGENT": 360},
    )

    assert (deadline, source) == (READY_AT + dt.timedelta(minutes=120), "contract")


def test_deadline_for_falls_back_to_the_default():
    deadline, source = classification.deadline_for(
        ready_at=READY_AT,
        priority="URGENT",
        contract_minutes={"STAT": 30},
        default_minutes={"URGENT": 360},
    )

    assert (deadline, source) == (READY_AT + dt.timedelta(minutes=360), "default")


def test_deadline_for_rejects_a_naive_ready_at():
    with pytest.raises(ValueError, match="timezone-aware"):
        classification.deadline_for(
            ready_at=dt.datetime(2026, 3, 10, 9, 0),
            priority="ROUTINE",
            contract_minutes={},
            default_minutes={"ROUTINE": 60},
        )


# --- deadline risk ------------------------------------------------------------------------------

DEADLINE = READY_AT + dt.timedelta(hours=4)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (READY_AT, "ok"),
        (READY_AT + dt.timedelta(hours=2), "ok"),
        (DEADLINE - dt.timedelta(hours=1, seconds=1), "ok"),
        (DEADLINE - dt.timedelta(hours=1), "at_risk"),  # exactly a quarter left
        (DEADLINE - dt.timedelta(minutes=1), "at_risk"),
        (DEADLINE, "overdue"),
        (DEADLINE + dt.timedelta(days=3), "overdue"),
    ],
)
def test_deadline_risk_is_overdue_at_risk_or_ok(now, expected):
    risk = classification.deadline_risk(
        deadline=DEADLINE, ready_at=READY_AT, now=now, risk_fraction=0.25
    )

    assert risk == expected


def test_a_study_without_a_deadline_has_no_risk():
    risk = classification.deadline_risk(
        deadline=None, ready_at=None, now=READY_AT, risk_fraction=0.25
    )

    assert risk == ""


def test_a_stat_due_in_45_minutes_is_at_risk_though_most_of_its_turnaround_is_left():
    ready = READY_AT
    risk = classification.deadline_risk(
        deadline=ready + dt.timedelta(minutes=60),
        ready_at=ready,
        now=ready + dt.timedelta(minutes=15),
        risk_fraction=0.25,
        risk_minutes=60,
        share_cap_minutes=480,
    )

    assert risk == "at_risk"


@pytest.mark.parametrize(
    ("hours_left", "expected"),
    [(14, "ok"), (8, "at_risk"), (2, "at_risk")],
)
def test_a_routine_study_is_at_risk_by_its_share_only_once_few_hours_remain(hours_left, expected):
    deadline = READY_AT + dt.timedelta(days=7)  # 168 hours: 14 hours left is 8 %
    risk = classification.deadline_risk(
        deadline=deadline,
        ready_at=READY_AT,
        now=deadline - dt.timedelta(hours=hours_left),
        risk_fraction=0.25,
        risk_minutes=60,
        share_cap_minutes=480,
    )

    assert risk == expected


def test_without_a_ready_time_only_the_absolute_time_left_can_be_told():
    just_inside = DEADLINE - dt.timedelta(minutes=60)
    assert (
        classification.deadline_risk(
            deadline=DEADLINE, ready_at=None, now=just_inside, risk_fraction=0.25, risk_minutes=60
        )
        == "at_risk"
    )


def test_without_a_ready_time_only_overdue_can_be_told():
    assert (
        classification.deadline_risk(
            deadline=DEADLINE,
            ready_at=None,
            now=DEADLINE - dt.timedelta(seconds=1),
            risk_fraction=0.25,
        )
        == "ok"
    )
    assert (
        classification.deadline_risk(
            deadline=DEADLINE, ready_at=None, now=DEADLINE, risk_fraction=0.25
        )
        == "overdue"
    )


def test_a_deadline_across_the_end_of_summer_time_is_the_contracted_real_time(site_a):
    DeadlineContract.objects.create(site=site_a, priority="ROUTINE", turnaround_minutes=24 * 60)
    oslo = site_a.zone
    # 25 October 2026: clocks in Oslo go back from 03:00 to 02:00, a 25-hour day.
    ready_at = dt.datetime(2026, 10, 25, 1, 30, tzinfo=oslo)
    study = StudyFactory(site=site_a)

    study = study_mark_ready(study_id=study.id, actor=Actor.system("test"), at=ready_at)

    elapsed = study.deadline.astimezone(dt.UTC) - ready_at.astimezone(dt.UTC)
    assert elapsed == dt.timedelta(hours=24)
    assert study.deadline.astimezone(oslo).replace(tzinfo=None) == dt.datetime(2026, 10, 26, 0, 30)
