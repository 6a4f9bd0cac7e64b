"""POST /api/v1/orders: a site's RIS creates, updates and cancels orders with its site token."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests import factories
from worklists import nin
from worklists.models import (
    DeadlineContract,
    InboundMessage,
    Patient,
    PatientIdentifier,
    SiteApiToken,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.services.tokens import personal_token_issue

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders"
ORDERED_AT = "2026-03-02T08:15:00+01:00"


_births = itertools.count()


def new_fnr() -> str:
    """A synthetic FNR no other call returns: each gets a birth date of its own."""
    return factories.synthetic_fnr(dt.date(1950, 1, 1) + dt.timedelta(days=next(_births)))


def order(
    accession: str = "ACC-1",
    *,
    fnr: str | None = None,
    action: str = "new",
    images_available: bool = False,
    **study: Any,
) -> dict[str, Any]:
    study_fields: dict[str, Any] = {
        "modality": "CT",
        "procedure": {"code": "NCRP-CT-HEAD", "text": "CT caput uten kontrast"},
        "body_part": "HEAD",
        "priority": "ROUTINE",
        "clinical_question": "Hodepine, spørsmål om blødning",
        "ordered_at": ORDERED_AT,
    }
    study_fields.update(study)
    fnr = fnr or new_fnr()
    birth_date = nin.parse(fnr).birth_date
    assert birth_date is not None
    return {
        "accession_number": accession,
        "action": action,
        "images_available": images_available,
        "patient": {
            "identifiers": [{"kind": "FNR", "value": fnr}],
            "family_name": "Ås",
            "given_name": "Bjørn",
            "birth_date": birth_date.isoformat(),
            "sex": "M",
        },
        "study": study_fields,
    }


def post(client: APIClient, payload: Any) -> tuple[Any, bytes]:
    """Post ``payload`` as JSON; return the response and the exact bytes sent."""
    body = json.dumps(payload).encode()
    response = client.post(URL, data=body, content_type="application/json")
    return response, body


def client_with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def site_b_client(site_b):
    return client_with_token(SiteApiToken.objects.create(site=site_b).key)


@pytest.fixture
def neuro_rule(neuro):
    return factories.RuleFactory(worklist=neuro, modality="CT", body_part="HEAD")


@pytest.fixture
def contract(site_a):
    DeadlineContract.objects.create(site=site_a, priority="ROUTINE", turnaround_minutes=24 * 60)
    DeadlineContract.objects.create(site=site_a, priority="STAT", turnaround_minutes=60)


# --- create -------------------------------------------------------------------------------


def test_a_new_order_creates_an_ordered_study_with_its_patient(site_a, site_a_client):
    fnr = new_fnr()

    response, _ = post(site_a_client, order("ACC-1", fnr=fnr))

    assert response.status_code == 201, response.data
    assert response.data["outcome"] == "created"
    assert response.data["status"] == "ORDERED"
    assert response.data["deadline"] is None
    study = Study.objects.get(id=response.data["study_id"])
    assert study.site == site_a
    assert study.accession_number == "ACC-1"
    assert study.status == StudyStatus.ORDERED
    assert study.modality == "CT"
    assert study.procedure_code == "NCRP-CT-HEAD"
    assert study.procedure_text == "CT caput uten kontrast"
    assert study.clinical_question == "Hodepine, spørsmål om blødning"
    assert study.ordered_at == dt.datetime.fromisoformat(ORDERED_AT)
    assert study.deadline is None
    assert study.worklist is None
    patient = study.patient
    assert (patient.family_name, patient.given_name, patient.sex) == ("Ås", "Bjørn", "M")
    assert patient.birth_date == nin.parse(fnr).birth_date
    identifier = patient.identifiers.get()
    assert (identifier.kind, identifier.authority, identifier.value) == ("FNR", "NO-FREG", fnr)
    events = list(study.events.values_list("from_status", "to_status", "actor_label", "reason"))
    assert events == [("", "ORDERED", "site:alfa", "order received")]


def test_the_ris_order_numbers_are_kept_for_the_result_and_a_blank_update_keeps_them(
    site_a_client,
):
    fnr = new_fnr()
    numbers = {"placer_order_number": "PL-77", "filler_order_number": "FI-88"}
    response, _ = post(site_a_client, order("ACC-NUM", fnr=fnr, **numbers))
    assert response.status_code == 201, response.data

    blank = {"placer_order_number": "", "filler_order_number": ""}
    update = order("ACC-NUM", fnr=fnr, action="update", priority="URGENT", **blank)
    response, _ = post(site_a_client, update)

    assert response.status_code == 200, response.data
    study = Study.objects.get(accession_number="ACC-NUM")
    assert (study.placer_order_number, study.filler_order_number) == ("PL-77", "FI-88")
    assert study.priority == "URGENT"


def test_a_new_order_with_images_available_is_ready_classified_and_has_a_deadline(
    site_a, site_a_client, neuro_rule, contract
):
    before = timezone.now()

    response, _ = post(site_a_client, order("ACC-1", images_available=True))

    assert response.status_code == 201, response.data
    assert response.data["status"] == "READY"
    assert response.data["worklist"] == "neuro"
    study = Study.objects.get(id=response.data["study_id"])
    assert study.status == StudyStatus.READY
    assert study.images_available is True
    assert study.worklist.code == "neuro"
    assert study.classification_rule_id == neuro_rule.id
    assert study.is_unclassified is False
    assert study.ready_at >= before
    assert study.deadline == study.ready_at + dt.timedelta(hours=24)
    assert dt.datetime.fromisoformat(response.data["deadline"]) == study.deadline
    assert list(study.events.values_list("from_status", "to_status")) == [
        ("", "ORDERED"),
        ("ORDERED", "READY"),
    ]
    ready_event = study.events.get(to_status="READY")
    assert ready_event.data["worklist"] == "neuro"
    assert ready_event.data["deadline_source"] == "contract"


def test_a_ready_order_no_rule_matches_lands_unclassified_in_the_general_worklist(
    site_a_client, general_worklist
):
    response, _ = post(site_a_client, order("ACC-1", images_available=True, body_part="KNEE"))

    assert response.status_code == 201, response.data
    study = Study.objects.get(id=response.data["study_id"])
    assert study.worklist == general_worklist
    assert study.is_unclassified is True
    assert study.deadline is not None


def test_a_new_order_stores_the_raw_message_applied_and_linked_to_its_study(site_a, site_a_client):
    response, body = post(site_a_client, order("ACC-1"))

    assert response.status_code == 201
    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.APPLIED
    assert message.channel == InboundMessage.Channel.REST
    assert message.site == site_a
    assert bytes(message.raw) == body
    assert message.study_id == response.data["study_id"]
    assert message.content_type == "application/json"
    assert message.message_type == "order"
    assert message.error == ""
    assert message.processed_at is not None


def test_a_new_order_takes_a_bounded_number_of_queries(
    site_a_client, neuro_rule, contract, django_assert_max_num_queries
):
    payload = order("ACC-1", images_available=True)
    # Includes the savepoints that let a concurrent sender of the same patient retry cleanly.
    with django_assert_max_num_queries(22):
        response, _ = post(site_a_client, payload)
    assert response.status_code == 201


def test_the_order_sending_an_unknown_local_identifier_keeps_both_identifiers(site_a_client):
    payload = order("ACC-1")
    payload["patient"]["identifiers"].append({"kind": "MR", "value": "H123"})

    response, _ = post(site_a_client, payload)

    assert response.status_code == 201, response.data
    identifiers = set(PatientIdentifier.objects.values_list("kind", "authority", "value"))
    fnr = payload["patient"]["identifiers"][0]["value"]
    assert identifiers == {("FNR", "NO-FREG", fnr), ("MR", "alfa", "H123")}


# --- idempotence ---------------------------------------------------------------------------


def test_posting_the_same_order_twice_changes_nothing_the_second_time(site_a_client):
    payload = order("ACC-1", images_available=True)
    first, _ = post(site_a_client, payload)
    study = Study.objects.get()
    events_before = list(StudyEvent.objects.values_list("id", flat=True))
    deadline_before = study.deadline

    second, _ = post(site_a_client, payload)

    assert first.status_code == 201
    assert second.status_code == 200, second.data
    assert second.data["outcome"] == "unchanged"
    assert second.data["changed_fields"] == []
    assert second.data["study_id"] == first.data["study_id"]
    assert Study.objects.count() == 1
    assert Patient.objects.count() == 1
    assert PatientIdentifier.objects.count() == 1
    assert list(StudyEvent.objects.values_list("id", flat=True)) == events_before
    study.refresh_from_db()
    assert study.deadline == deadline_before
    assert study.status == StudyStatus.READY
    assert list(InboundMessage.objects.values_list("status", flat=True)) == ["APPLIED"] * 2


# --- update --------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["update", "new"])
def test_a_changed_order_updates_the_study_and_lists_the_changed_fields(site_a_client, action):
    fnr = new_fnr()
    post(site_a_client, order("ACC-1", fnr=fnr))
    study = Study.objects.get()

    response, _ = post(
        site_a_client,
        order(
            "ACC-1", fnr=fnr, action=action, clinical_question="Slag?", referring_physician="Dr X"
        ),
    )

    assert response.status_code == 200, response.data
    assert response.data["outcome"] == "updated"
    assert sorted(response.data["changed_fields"]) == ["clinical_question", "referring_physician"]
    study.refresh_from_db()
    assert study.clinical_question == "Slag?"
    assert study.referring_physician == "Dr X"
    assert study.status == StudyStatus.ORDERED
    event = study.events.last()
    assert (event.from_status, event.to_status, event.reason) == (
        "ORDERED",
        "ORDERED",
        "order updated",
    )
    assert sorted(event.data["changed"]) == ["clinical_question", "referring_physician"]
    assert Study.objects.count() == 1
    assert Patient.objects.count() == 1


def test_an_update_with_images_available_makes_an_ordered_study_ready(site_a_client):
    fnr = new_fnr()
    post(site_a_client, order("ACC-1", fnr=fnr))

    response, _ = post(
        site_a_client, order("ACC-1", fnr=fnr, action="update", images_available=True)
    )

    assert response.status_code == 200, response.data
    assert response.data["outcome"] == "updated"
    assert response.data["changed_fields"] == ["status"]
    assert Study.objects.get().status == StudyStatus.READY


def test_a_priority_change_on_a_ready_study_recomputes_its_deadline(
    site_a_client, neuro_rule, contract
):
    fnr = new_fnr()
    post(site_a_client, order("ACC-1", fnr=fnr, images_available=True))
    study = Study.objects.get()
    assert study.deadline == study.ready_at + dt.timedelta(hours=24)

    response, _ = post(
        site_a_client,
        order("ACC-1", fnr=fnr, action="update", images_available=True, priority="STAT"),
    )

    assert response.status_code == 200, response.data
    assert response.data["outcome"] == "updated"
    assert response.data["changed_fields"] == ["priority"]
    study.refresh_from_db()
    assert study.priority == "STAT"
    assert study.status == StudyStatus.READY
    assert study.deadline == study.ready_at + dt.timedelta(minutes=60)
    assert dt.datetime.fromisoformat(response.data["deadline"]) == study.deadline
    assert study.worklist.code == "neuro"


def test_a_body_part_change_on_a_ready_study_reclassifies_it(
    site_a_client, neuro_rule, general_worklist
):
    fnr = new_fnr()
    post(site_a_client, order("ACC-1", fnr=fnr, images_available=True))

    response, _ = post(site_a_client, order("ACC-1", fnr=fnr, body_part="KNEE"))

    assert response.status_code == 200, response.data
    assert response.data["worklist"] == "general"
    study = Study.objects.get()
    assert study.worklist == general_worklist
    assert study.is_unclassified is True
    assert study.classification_rule is None


def test_an_update_naming_another_patient_is_refused(site_a_client):
    post(site_a_client, order("ACC-1"))
    study = Study.objects.get()
    events_before = study.events.count()

    response, _ = post(site_a_client, order("ACC-1", action="update", clinical_question="Ny"))

    assert response.status_code == 409, response.data
    assert "patient.identifiers" in response.data["errors"]
    study.refresh_from_db()
    assert study.clinical_question == "Hodepine, spørsmål om blødning"
    assert study.events.count() == events_before
    # The identifier of the other patient was not half-written either.
    assert Patient.objects.count() == 1
    assert PatientIdentifier.objects.count() == 1
    assert InboundMessage.objects.latest("id").status == InboundMessage.Status.FAILED


def test_an_order_that_omits_the_study_instance_uid_keeps_the_one_the_study_has(site_a_client):
    fnr = new_fnr()
    post(site_a_client, order("ACC-1", fnr=fnr, study_instance_uid="1.2.578.1.5"))

    response, _ = post(site_a_client, order("ACC-1", fnr=fnr, action="update"))

    assert response.status_code == 200
    assert response.data["outcome"] == "unchanged"
    assert Study.objects.get().study_instance_uid == "1.2.578.1.5"


def test_a_changed_patient_name_is_reported_and_recorded(site_a_client):
    fnr = new_fnr()
    post(site_a_client, order("ACC-1", fnr=fnr))
    payload = order("ACC-1", fnr=fnr, action="update")
    payload["patient"]["family_name"] = "Ødegård"

    response, _ = post(site_a_client, payload)

    assert response.status_code == 200
    assert response.data["outcome"] == "updated"
    assert response.data["changed_fields"] == ["patient.family_name"]
    assert Patient.objects.get().family_name == "Ødegård"
    event = StudyEvent.objects.filter(reason="order updated").get()
    assert event.data == {"changed": ["patient.family_name"]}


def test_images_that_arrive_while_a_study_is_held_open_it_when_the_hold_is_released(
    site_a_client,
):
    from worklists.actors import Actor
    from worklists.services.studies import study_hold, study_release_hold

    fnr = new_fnr()
    post(site_a_client, order("ACC-1", fnr=fnr))
    study = Study.objects.get()
    study_hold(study_id=study.id, actor=Actor.system("test"), reason="identity check")

    response, _ = post(site_a_client, order("ACC-1", fnr=fnr, images_available=True))

    assert response.data["changed_fields"] == ["images_available"]
    study.refresh_from_db()
    assert study.status == StudyStatus.ON_HOLD
    study_release_hold(study_id=study.id, actor=Actor.system("test"), reason="resolved")
    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert study.deadline is not None


# --- cancel --------------------------------------------------------------------------------


def test_cancelling_an_order_cancels_the_study_with_an_event(site_a_client):
    post(site_a_client, order("ACC-1", images_available=True))

    response, _ = post(
        site_a_client, {"accession_number": "ACC-1", "action": "cancel", "reason": "feilbestilt"}
    )

    assert response.status_code == 200, response.data
    assert response.data["outcome"] == "cancelled"
    assert response.data["status"] == "CANCELLED"
    study = Study.objects.get()
    assert study.status == StudyStatus.CANCELLED
    event = study.events.last()
    assert (event.from_status, event.to_status) == ("READY", "CANCELLED")
    assert event.reason == "feilbestilt"
    assert event.actor_label == "site:alfa"
    assert InboundMessage.objects.latest("id").status == InboundMessage.Status.APPLIED


def test_cancelling_twice_changes_nothing_the_second_time(site_a_client):
    post(site_a_client, order("ACC-1"))
    post(site_a_client, {"accession_number": "ACC-1", "action": "cancel"})
    events_before = StudyEvent.objects.count()

    response, _ = post(site_a_client, {"accession_number": "ACC-1", "action": "cancel"})

    assert response.status_code == 200, response.data
    assert response.data["outcome"] == "unchanged"
    assert StudyEvent.objects.count() == events_before
    assert Study.objects.get().status == StudyStatus.CANCELLED


def test_cancelling_an_unknown_accession_is_404_and_the_message_is_kept_failed(site_a_client):
    response, body = post(site_a_client, {"accession_number": "NOPE", "action": "cancel"})

    assert response.status_code == 404
    assert "NOPE" in response.data["errors"]["accession_number"][0]
    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.FAILED
    assert bytes(message.raw) == body
    assert "accession_number" in message.error
    assert "NOPE" in message.error
    assert response.data["inbound_id"] == message.id
    assert not Study.objects.exists()


def test_updating_an_unknown_accession_is_404(site_a_client):
    response, _ = post(site_a_client, order("NOPE", action="update"))

    assert response.status_code == 404
    assert "accession_number" in response.data["errors"]
    assert not Study.objects.exists()
    assert not Patient.objects.exists()


def test_updating_a_cancelled_study_is_409(site_a_client):
    fnr = new_fnr()
    post(site_a_client, order("ACC-1", fnr=fnr))
    post(site_a_client, {"accession_number": "ACC-1", "action": "cancel"})
    events_before = StudyEvent.objects.count()

    response, _ = post(site_a_client, order("ACC-1", fnr=fnr, action="update", priority="STAT"))

    assert response.status_code == 409
    assert "CANCELLED" in response.data["errors"]["accession_number"][0]
    study = Study.objects.get()
    assert study.status == StudyStatus.CANCELLED
    assert study.priority == "ROUTINE"
    assert StudyEvent.objects.count() == events_before
    message = InboundMessage.objects.latest("id")
    assert message.status == InboundMessage.Status.FAILED
    assert "CANCELLED" in message.error


# --- bad input -----------------------------------------------------------------------------


def _without_accession(p: dict[str, Any]) -> None:
    del p["accession_number"]


def _wrong_check_digit(p: dict[str, Any]) -> None:
    value = p["patient"]["identifiers"][0]["value"]
    p["patient"]["identifiers"][0]["value"] = value[:-1] + str((int(value[-1]) + 1) % 10)


def _unknown_modality(p: dict[str, Any]) -> None:
    p["study"]["modality"] = "XX"


def _bad_ordered_at(p: dict[str, Any]) -> None:
    p["study"]["ordered_at"] = "yesterday at noon"


def _no_patient(p: dict[str, Any]) -> None:
    del p["patient"]


def _future_birth_date(p: dict[str, Any]) -> None:
    p["patient"]["birth_date"] = (timezone.localdate() + dt.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("mutate", "error_path", "message_part"),
    [
        (_without_accession, ("accession_number",), "required"),
        (_wrong_check_digit, ("patient", "identifiers", 0, "value"), "check digit"),
        (_unknown_modality, ("study", "modality"), "XX"),
        (_bad_ordered_at, ("study", "ordered_at"), "format"),
        (_no_patient, ("patient",), "required"),
        (_future_birth_date, ("patient", "birth_date"), "future"),
    ],
    ids=[
        "missing-accession",
        "fnr-check-digit",
        "unknown-modality",
        "bad-ordered-at",
        "missing-patient",
        "future-birth-date",
    ],
)
def test_a_bad_order_is_400_with_field_errors_and_nothing_half_written(
    site_a_client, mutate, error_path, message_part
):
    payload = order("ACC-1")
    mutate(payload)

    response, body = post(site_a_client, payload)

    assert response.status_code == 400, response.data
    node: Any = response.data["errors"]
    for key in error_path:
        node = node[key]
    assert message_part in str(node[0] if isinstance(node, list) else node)
    assert not Study.objects.exists()
    assert not Patient.objects.exists()
    assert not PatientIdentifier.objects.exists()
    assert not StudyEvent.objects.exists()
    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.FAILED
    assert bytes(message.raw) == body
    assert str(error_path[0]) in message.error
    assert message_part in message.error
    assert response.data["inbound_id"] == message.id


def test_a_malformed_json_body_is_400_and_the_raw_body_is_kept_failed(site_a_client):
    body = b'{"accession_number": "ACC-1", "patient": '

    response = site_a_client.post(URL, data=body, content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.data["errors"]["non_field_errors"][0]
    assert not Study.objects.exists()
    message = InboundMessage.objects.get()
    assert bytes(message.raw) == body
    assert message.status == InboundMessage.Status.FAILED
    assert "JSON parse error" in message.error
    assert response.data["inbound_id"] == message.id


def test_a_body_of_an_unsupported_media_type_is_415_and_kept_failed(site_a_client):
    body = b"MSH|^~\\&|RIS|ALFA"

    response = site_a_client.post(URL, data=body, content_type="text/plain")

    assert response.status_code == 415
    message = InboundMessage.objects.get()
    assert bytes(message.raw) == body
    assert message.status == InboundMessage.Status.FAILED
    assert "text/plain" in message.error


def test_a_json_body_that_is_not_an_object_is_400_and_kept_failed(site_a_client):
    response, body = post(site_a_client, [order("ACC-1")])

    assert response.status_code == 400
    assert "non_field_errors" in response.data["errors"]
    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.FAILED
    assert bytes(message.raw) == body


# --- authentication and site scoping -------------------------------------------------------


def test_an_order_without_a_token_is_refused_and_not_stored(api_client, site_a):
    response, _ = post(api_client, order("ACC-1"))

    assert response.status_code == 401
    assert not InboundMessage.objects.exists()
    assert not Study.objects.exists()


def test_an_order_with_an_unknown_site_token_is_refused(site_a):
    response, _ = post(client_with_token("site_not-a-real-key"), order("ACC-1"))

    assert response.status_code == 401
    assert not InboundMessage.objects.exists()


def test_an_order_with_the_token_of_an_inactive_site_is_refused(site_a, site_a_client):
    site_a.is_active = False
    site_a.save()

    response, _ = post(site_a_client, order("ACC-1"))

    assert response.status_code == 401
    assert not Study.objects.exists()


def test_a_personal_token_cannot_post_orders(owner):
    token = personal_token_issue(user_id=owner.user.pk)

    response, _ = post(client_with_token(token.key), order("ACC-1"))

    assert response.status_code == 403
    assert not InboundMessage.objects.exists()
    assert not Study.objects.exists()


@pytest.mark.parametrize("persona", ["owner", "coordinator"])
def test_a_logged_in_person_cannot_post_orders(request, persona):
    user = request.getfixturevalue(persona)
    client = APIClient()
    client.force_login(getattr(user, "user", user))

    response, _ = post(client, order("ACC-1"))

    assert response.status_code == 403
    assert not InboundMessage.objects.exists()
    assert not Study.objects.exists()


def test_a_site_token_only_touches_its_own_sites_studies(site_a, site_b, site_a_client):
    theirs = factories.StudyFactory(site=site_b, accession_number="ACC-1", priority="ROUTINE")

    response, _ = post(site_a_client, order("ACC-1", priority="STAT"))

    assert response.status_code == 201, response.data
    ours = Study.objects.get(id=response.data["study_id"])
    assert ours.site == site_a
    theirs.refresh_from_db()
    assert theirs.priority == "ROUTINE"
    assert not theirs.events.exists()


def test_a_site_token_cannot_cancel_another_sites_study(site_b, site_a_client):
    theirs = factories.StudyFactory(site=site_b, accession_number="ACC-1")

    response, _ = post(site_a_client, {"accession_number": "ACC-1", "action": "cancel"})

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == StudyStatus.ORDERED


def test_the_same_accession_number_at_two_sites_gives_two_studies(
    site_a, site_b, site_a_client, site_b_client
):
    first, _ = post(site_a_client, order("ACC-1"))
    second, _ = post(site_b_client, order("ACC-1"))

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.data["study_id"] != second.data["study_id"]
    assert set(Study.objects.values_list("site__code", "accession_number")) == {
        ("alfa", "ACC-1"),
        ("bravo", "ACC-1"),
    }


def test_a_patient_known_by_fnr_from_another_site_is_reused(
    site_a, site_b, site_a_client, site_b_client, coordinator
):
    from worklists.selectors import patient_prior_studies

    fnr = new_fnr()
    first, _ = post(site_a_client, order("A-1", fnr=fnr))
    second, _ = post(site_b_client, order("B-7", fnr=fnr, modality="MR"))

    assert (first.status_code, second.status_code) == (201, 201)
    assert Patient.objects.count() == 1
    assert PatientIdentifier.objects.count() == 1
    patient = Patient.objects.get()
    assert set(patient.studies.values_list("site__code", flat=True)) == {"alfa", "bravo"}
    study_b = Study.objects.get(id=second.data["study_id"])
    priors = patient_prior_studies(user=coordinator, study=study_b)
    assert [p.id for p in priors] == [first.data["study_id"]]


# --- partial updates, authorities, clocks -----------------------------------------------------


def test_an_update_changes_only_what_it_states(site_a_client):
    fnr = new_fnr()
    payload = order("ACC-1", fnr=fnr, images_available=True, priority="STAT")
    payload["patient"]["sex"] = "F"
    post(site_a_client, payload)
    deadline = Study.objects.get().deadline

    response, _ = post(
        site_a_client,
        {
            "accession_number": "ACC-1",
            "action": "update",
            "study": {"referring_physician": "Dr. Ås"},
        },
    )

    assert response.status_code == 200, response.data
    assert response.data["changed_fields"] == ["referring_physician"]
    study = Study.objects.get()
    assert study.priority == "STAT"
    assert study.deadline == deadline
    assert study.clinical_question == "Hodepine, spørsmål om blødning"
    assert study.patient.sex == "F"


def test_a_new_order_must_state_modality_procedure_and_ordered_at(site_a_client):
    payload = order("ACC-1")
    del payload["study"]["modality"]
    del payload["study"]["ordered_at"]

    response, _ = post(site_a_client, payload)

    assert response.status_code == 400
    assert set(response.data["errors"]["study"]) == {"modality", "ordered_at"}
    assert not Study.objects.exists()


def test_an_ordered_at_without_utc_offset_is_refused(site_a_client):
    response, _ = post(site_a_client, order("ACC-1", ordered_at="2026-11-26T21:14:00"))

    assert response.status_code == 400
    assert "UTC offset" in str(response.data["errors"]["study"]["ordered_at"][0])
    assert not Study.objects.exists()


def test_a_national_number_is_always_the_national_registers(site_a_client):
    payload = order("ACC-1")
    payload["patient"]["identifiers"][0]["authority"] = "alfa"

    response, _ = post(site_a_client, payload)

    assert response.status_code == 409
    assert "issued by 'NO-FREG'" in response.data["errors"]["patient.identifiers"][0]
    assert not Patient.objects.exists()


def test_a_site_cannot_send_record_numbers_of_another_site(site_a_client, site_b):
    payload = order("ACC-1")
    payload["patient"]["identifiers"].append({"kind": "MR", "value": "B-17", "authority": "bravo"})

    response, _ = post(site_a_client, payload)

    assert response.status_code == 409
    assert not PatientIdentifier.objects.filter(authority="bravo").exists()


def test_a_local_record_number_belongs_to_the_sending_site(site_a_client):
    payload = order("ACC-1")
    payload["patient"]["identifiers"].append({"kind": "MR", "value": "A-17"})

    post(site_a_client, payload)

    assert PatientIdentifier.objects.get(kind="MR").authority == "alfa"


def test_an_unexpected_failure_keeps_the_message_failed_with_its_cause(site_a_client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("worklists.services.orders.order_apply", broken)
    site_a_client.raise_request_exception = False

    response, body = post(site_a_client, order("ACC-1"))

    assert response.status_code == 500
    message = InboundMessage.objects.get()
    assert message.status == InboundMessage.Status.FAILED
    assert "disk full" in message.error
    assert bytes(message.raw) == body
