"""Low-value referral flags: rules kept as data flag an order at intake (every channel), the flag
shows on the worklist and the reading page beside the return action, and the flagged and
returned counts per site are an indicator."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from demo_ris.orders import PROCEDURES, orm_o01
from reports.models import RejectionReason
from tests import factories
from tests.hl7_support import hl7_site, listener, send, spec
from tests.test_orders_api import order, post
from tests.test_pages import tags
from worklists import low_value
from worklists.actors import Actor
from worklists.demo.low_value import EXAMPLE_RULES, ensure_low_value_rules
from worklists.low_value_selectors import low_value_counts
from worklists.models import LowValueRule, Study, StudyEvent, StudyStatus
from worklists.services.low_value import active_rules
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
    order_apply,
)
from worklists.services.studies import study_assign

pytestmark = pytest.mark.django_db
FIXTURES = (hl7_site, listener)

BACK_PAIN = "Eksempel: ikke MR ved uspesifikke korsryggsmerter uten røde flagg."


def facts(**kw) -> low_value.ReferralFacts:
    values: dict = {
        "modality": "MR",
        "body_part": "LSPINE",
        "procedure_code": "MBE0AA",
        "clinical_question": "Korsryggsmerter i tre uker.",
        "patient_age_years": 45,
    }
    values.update(kw)
    return low_value.ReferralFacts(**values)


def pure_rule(**kw) -> low_value.LowValueRule:
    rule_id, position = kw.pop("id", 1), kw.pop("position", 10)
    return low_value.LowValueRule(id=rule_id, position=position, text="t", **kw)


def back_pain_rule(**kw) -> LowValueRule:
    values: dict = {
        "name": "Example: MR for non-specific low back pain",
        "text": BACK_PAIN,
        "is_example": True,
        "modality": "MR",
        "question_words": "rygg, lumbago",
        "excluding_words": "cauda, feber, kreft",
    }
    values.update(kw)
    return LowValueRule.objects.create(**values)


# --- matching (pure) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        ({"modality": "MR"}, {"modality": "MR"}, {"modality": "CT"}),
        ({"body_part": "lspine"}, {"body_part": "LSPINE"}, {"body_part": "KNEE"}),
        ({"procedure_code": "MBE0AA"}, {"procedure_code": "MBE0AA"}, {"procedure_code": "MBE0A"}),
        ({"procedure_code_prefix": "MBE"}, {"procedure_code": "MBE0AA"}, {"procedure_code": "MB"}),
        ({"min_age_years": 50}, {"patient_age_years": 50}, {"patient_age_years": 49}),
        ({"max_age_years": 15}, {"patient_age_years": 15}, {"patient_age_years": 16}),
        (
            {"question_words": ("rygg", "lumbago")},
            {"clinical_question": "LUMBAGO siden mandag"},
            {"clinical_question": "Smerter i kneet"},
        ),
        (
            {"excluding_words": ("cauda",)},
            {"clinical_question": "Korsryggsmerter"},
            {"clinical_question": "Korsryggsmerter, mistenkt Cauda equina"},
        ),
    ],
)
def test_each_condition_of_a_rule_decides_the_match(condition, matching, other):
    rule = pure_rule(**condition)

    assert low_value.rule_matches(rule, facts(**matching))
    assert not low_value.rule_matches(rule, facts(**other))


def test_words_match_case_insensitively_inside_compound_words():
    rule = pure_rule(question_words=low_value.words_of(" Rygg ,\nISJIAS"))

    assert rule.question_words == ("rygg", "isjias")
    assert low_value.rule_matches(rule, facts(clinical_question="Korsryggsmerter"))
    assert low_value.rule_matches(rule, facts(clinical_question="Isjias høyre L5"))


def test_an_age_condition_never_matches_a_patient_of_unknown_age():
    assert not low_value.rule_matches(pure_rule(min_age_years=50), facts(patient_age_years=None))


def test_the_first_matching_rule_by_position_wins():
    later = pure_rule(id=1, position=20)
    first = pure_rule(id=2, position=10)

    assert low_value.first_matching_rule([later, first], facts()) == first
    assert low_value.first_matching_rule([pure_rule(modality="CT")], facts()) is None


# --- flagging at intake -------------------------------------------------------------------------


def _flag_event(study: Study) -> StudyEvent:
    return StudyEvent.objects.get(study=study, data__has_key="low_value_rule")


def test_a_rest_order_a_rule_matches_is_flagged_with_the_rules_text(site_a, site_a_client):
    rule = back_pain_rule()

    response, _ = post(
        site_a_client,
        order("ACC-LV", modality="MR", clinical_question="Korsryggsmerter i to uker."),
    )

    assert response.status_code == 201, response.data
    study = Study.objects.get(id=response.data["study_id"])
    assert (study.low_value_rule_id, study.low_value_text) == (rule.id, BACK_PAIN)
    event = _flag_event(study)
    assert event.data["low_value_rule"] == {"id": rule.id, "name": rule.name, "text": BACK_PAIN}
    assert (event.from_status, event.to_status) == ("ORDERED", "ORDERED")
    assert event.actor_label == "site:alfa"


def test_an_order_with_a_red_flag_or_another_question_is_not_flagged(site_a, site_a_client):
    back_pain_rule()

    post(site_a_client, order("ACC-1", modality="MR", clinical_question="Ryggsmerter og feber"))
    post(site_a_client, order("ACC-2", modality="MR", clinical_question="Hodepine"))

    assert not Study.objects.exclude(low_value_text="").exists()
    assert not StudyEvent.objects.filter(data__has_key="low_value_rule").exists()


def test_an_inactive_rule_flags_nothing(site_a, site_a_client):
    back_pain_rule(is_active=False)

    post(site_a_client, order("ACC-1", modality="MR", clinical_question="Korsryggsmerter"))

    study = Study.objects.get(accession_number="ACC-1")
    assert (study.low_value_rule_id, study.low_value_text) == (None, "")


def test_the_age_condition_uses_the_patients_age_at_intake(site_a, site_a_client):
    back_pain_rule(min_age_years=60)
    young = factories.synthetic_fnr(dt.date(1990, 1, 1))
    old = factories.synthetic_fnr(dt.date(1950, 1, 1))

    post(site_a_client, order("YOUNG", fnr=young, modality="MR", clinical_question="Rygg"))
    post(site_a_client, order("OLD", fnr=old, modality="MR", clinical_question="Rygg"))

    flagged = Study.objects.exclude(low_value_text="").values_list("accession_number", flat=True)
    assert list(flagged) == ["OLD"]


def test_an_order_changed_into_one_a_rule_matches_is_flagged_then_and_once(site_a, site_a_client):
    back_pain_rule()
    fnr = factories.synthetic_fnr(dt.date(1961, 2, 3))
    post(site_a_client, order("ACC-1", fnr=fnr, modality="MR", clinical_question="Kontroll"))
    changed = order("ACC-1", fnr=fnr, action="update", modality="MR", clinical_question="Lumbago")

    first, _ = post(site_a_client, changed)
    second, _ = post(
        site_a_client, {**changed, "study": {**changed["study"], "clinical_question": "Rygg"}}
    )

    assert (first.status_code, second.status_code) == (200, 200), first.data

    study = Study.objects.get(accession_number="ACC-1")
    assert study.low_value_text == BACK_PAIN
    assert StudyEvent.objects.filter(study=study, data__has_key="low_value_rule").count() == 1


def test_the_flag_keeps_the_text_the_reader_was_shown_when_the_rule_is_edited(site_a):
    rule = back_pain_rule()
    result = order_apply(
        site_id=site_a.id,
        order=OrderInput(
            accession_number="ACC-1",
            action=OrderAction.NEW,
            patient=patient_input(),
            study=StudyInput(
                modality="MR",
                procedure_text="MR columna lumbalis",
                ordered_at=timezone.now(),
                clinical_question="Lumbago",
            ),
        ),
        actor=Actor.system("test"),
    )

    rule.text = "Ny tekst"
    rule.save()

    result.study.refresh_from_db()
    assert result.study.low_value_text == BACK_PAIN


def patient_input():
    return PatientInput(
        identifiers=(IdentifierInput(kind="FNR", value=factories.synthetic_fnr()),),
        family_name="Ås",
        given_name="Bjørn",
        birth_date=dt.date(1970, 5, 17),
        sex="M",
    )


@pytest.mark.django_db(transaction=True)
def test_an_hl7_order_a_rule_matches_is_flagged(listener):
    back_pain_rule(modality="MR", question_words="kne")
    knee = next(p for p in PROCEDURES if p[0] == "MN0BA")

    ack = send(
        listener.port,
        orm_o01(spec("ACC-HL7", procedure=knee, question="Knesmerter i et år"), facility="ALFA"),
    )

    assert ack.code == "AA"
    study = Study.objects.get(accession_number="ACC-HL7")
    assert study.low_value_text == BACK_PAIN
    assert _flag_event(study).actor_label.startswith("site:")


# --- shown on the worklist and the reading page --------------------------------------------------


@pytest.fixture
def flagged_study(owner, site_a, neuro):
    factories.RuleFactory(worklist=neuro, modality="MR")
    back_pain_rule()
    result = order_apply(
        site_id=site_a.id,
        order=OrderInput(
            accession_number="ACC-FLAG",
            action=OrderAction.NEW,
            patient=patient_input(),
            study=StudyInput(
                modality="MR",
                procedure_text="MR columna lumbalis",
                ordered_at=timezone.now(),
                clinical_question="Korsryggsmerter i tre uker.",
            ),
            images_available=True,
        ),
        actor=Actor.system("test"),
    )
    return result.study


def test_the_worklist_shows_the_flag_with_the_rules_text(client, owner, flagged_study):
    client.force_login(owner.user)

    response = client.get(reverse("worklist"), {"tab": "neuro"})

    assert response.status_code == 200
    [badge] = tags(response, "span", data_low_value="*")
    assert badge["title"] == BACK_PAIN


def test_the_readers_queue_shows_the_flag(client, owner, flagged_study):
    study_assign(study_id=flagged_study.id, radiologist_id=owner.id, actor=Actor.system("test"))
    client.force_login(owner.user)

    response = client.get(reverse("worklist"), {"tab": "neuro"})

    queue_badges = [
        b for b in tags(response, "span", data_low_value="*") if b["title"] == BACK_PAIN
    ]
    assert queue_badges


def test_the_reading_page_shows_the_flag_beside_the_return_preset_to_not_indicated(
    client, owner, flagged_study
):
    study_assign(study_id=flagged_study.id, radiologist_id=owner.id, actor=Actor.system("test"))
    client.force_login(owner.user)

    response = client.get(reverse("reading", args=[flagged_study.id]))

    assert response.status_code == 200
    assert tags(response, "p", data_low_value_flag="*")
    assert tags(response, "p", data_low_value_reject="*")
    [details] = tags(response, "details", id="return-referral")
    assert "open" in details
    chosen = [
        o["value"]
        for o in tags(response, "option", selected="*")
        if o["value"] in RejectionReason.values
    ]
    assert chosen == [RejectionReason.NOT_INDICATED]
    assert BACK_PAIN in response.content.decode()


def test_an_unflagged_reading_page_shows_no_flag_and_a_closed_return(client, owner, site_a):
    study = factories.held_study(owner, site=site_a)
    client.force_login(owner.user)

    response = client.get(reverse("reading", args=[study.id]))

    assert not tags(response, "p", data_low_value_flag="*")
    [details] = tags(response, "details", id="return-referral")
    assert "open" not in details


# --- the indicator -------------------------------------------------------------------------------


def _flagged(site, accession: str, at: dt.datetime, **kw) -> Study:
    study = factories.StudyFactory.create(site=site, accession_number=accession, **kw)
    StudyEvent.objects.create(
        study=study,
        from_status="ORDERED",
        to_status="ORDERED",
        at=at,
        data={"low_value_rule": {"id": 1, "name": "r", "text": "t"}},
    )
    return study


def _returned(study: Study, at: dt.datetime) -> None:
    StudyEvent.objects.create(study=study, from_status="ASSIGNED", to_status="REJECTED", at=at)


def test_flagged_and_returned_after_flag_are_counted_per_site_for_the_period(
    coordinator, site_a, site_b
):
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    a1 = _flagged(site_a, "A1", start)
    _flagged(site_a, "A2", start + dt.timedelta(days=3))
    a3 = _flagged(site_a, "A3", end - dt.timedelta(seconds=1))
    _flagged(site_a, "OUTSIDE", end)  # the period's end is not in it
    b1 = _flagged(site_b, "B1", start + dt.timedelta(days=10))
    _returned(a1, start + dt.timedelta(hours=2))
    _returned(a3, end + dt.timedelta(days=2))  # returned after the period: still returned
    # returned, but never flagged: not in the indicator
    _returned(factories.StudyFactory(site=site_b, accession_number="B2"), start)
    StudyEvent.objects.create(study=b1, from_status="ORDERED", to_status="READY", at=start)

    counts = {
        c.site_code: (c.flagged, c.returned)
        for c in low_value_counts(user=coordinator, starts=start, ends=end)
    }

    assert counts == {"alfa": (3, 2), "bravo": (1, 0)}


def test_an_empty_period_counts_zero_for_every_visible_site(coordinator, site_a):
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

    counts = low_value_counts(user=coordinator, starts=start, ends=start + dt.timedelta(days=1))

    assert [(c.site_code, c.flagged, c.returned, c.returned_share) for c in counts] == [
        ("alfa", 0, 0, None)
    ]


def test_a_site_user_counts_only_their_own_site(site_user, site_a, site_b):
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    _flagged(site_a, "A1", start)
    _flagged(site_b, "B1", start)

    counts = low_value_counts(user=site_user, starts=start, ends=start + dt.timedelta(days=1))

    assert [(c.site_code, c.flagged) for c in counts] == [("alfa", 1)]


def test_a_flagged_study_returned_through_the_api_counts_as_returned(
    owner, coordinator, flagged_study, client_for
):
    study_assign(study_id=flagged_study.id, radiologist_id=owner.id, actor=Actor.system("test"))
    now = timezone.now()

    response = client_for(owner.user).post(
        reverse("api-study-reject", args=[flagged_study.id]),
        {"reason": "NOT_INDICATED"},
        format="json",
    )

    assert response.status_code == 201, response.content
    [count] = low_value_counts(
        user=coordinator, starts=now - dt.timedelta(hours=1), ends=now + dt.timedelta(hours=1)
    )
    assert (count.flagged, count.returned) == (1, 1)
    flagged_study.refresh_from_db()
    assert flagged_study.status == StudyStatus.REJECTED


def test_the_demo_ships_its_rules_as_labelled_examples():
    ensure_low_value_rules()
    ensure_low_value_rules()  # again: brought back to the demo state, not doubled

    rules = list(LowValueRule.objects.all())
    assert len(rules) == len(EXAMPLE_RULES) >= 3
    assert all(r.is_example and r.name.startswith("Example:") for r in rules)
    assert all(r.text.startswith("Eksempel") for r in rules)


def test_the_demo_back_pain_example_flags_sciatica_but_not_cauda_equina():
    ensure_low_value_rules()
    rules = active_rules()
    sciatica = facts(clinical_question="Isjias høyre L5 i åtte uker, ikke bedring. Prolaps?")
    cauda = facts(clinical_question="Nyoppståtte pareser og urinretensjon. Cauda equina?")

    assert low_value.first_matching_rule(rules, sciatica) is not None
    assert low_value.first_matching_rule(rules, cauda) is None
