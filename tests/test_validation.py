"""One set of rules for orders and patients (worklists.validation), whichever channel brings
them: the pure rules first, then each rule as the REST API, the HL7 listener and the DICOM
receiver meet it, then how the REST API answers a domain error of each kind."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.exceptions import NotAcceptable

from demo_ris.orders import adt_a08, orm_o01
from dicom.scp import SUCCESS
from tests import factories
from tests.dicom_support import instance, new_uid, running_receiver
from tests.dicom_support import send as dicom_send
from tests.hl7_support import hl7_site, listener, send, spec
from worklists import validation
from worklists.actors import Actor
from worklists.api_errors import api_exception_handler
from worklists.errors import (
    Conflict,
    InvalidData,
    InvalidInput,
    KeptForInspection,
    NotFound,
    NotPermitted,
    Problem,
    StudyNotFound,
)
from worklists.models import (
    Assignment,
    InboundMessage,
    Patient,
    PatientIdentifier,
    Study,
    StudyEvent,
)
from worklists.services.claims import NotCoordinator, study_coordinator_assign
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
    order_apply,
)

FIXTURES = (hl7_site, listener)  # shared fixtures, found by name in this module
TODAY = dt.date(2026, 12, 3)
ORDERS_URL = "/api/v1/orders"


def _wrong_check_digit(fnr: str) -> str:
    return fnr[:-1] + str((int(fnr[-1]) + 1) % 10)


def _patient(**changes: Any) -> PatientInput:
    fields: dict[str, Any] = {
        "identifiers": (IdentifierInput(kind="FNR", value=factories.synthetic_fnr()),),
        "family_name": "Ødegård",
        "birth_date": dt.date(1970, 5, 17),
    }
    fields.update(changes)
    return PatientInput(**fields)


def _new_order(**changes: Any) -> OrderInput:
    fields: dict[str, Any] = {
        "accession_number": "ACC-V1",
        "action": OrderAction.NEW,
        "patient": _patient(),
        "study": StudyInput(
            modality="CT",
            procedure_text="CT caput uten kontrast",
            ordered_at=dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC),
        ),
    }
    fields.update(changes)
    return OrderInput(**fields)


# --- the rules, pure ----------------------------------------------------------------------


def test_a_national_number_with_a_wrong_check_digit_is_refused_naming_the_digit():
    with pytest.raises(InvalidData) as refused:
        validation.national_number(_wrong_check_digit(factories.synthetic_fnr()))

    assert "not a valid national identity number" in str(refused.value)
    assert "check digit" in str(refused.value)


def test_a_national_number_of_another_kind_than_stated_is_refused():
    d_number = "41017012345"  # the day + 40 of a D-nummer, whatever its check digits
    fnr = factories.synthetic_fnr()

    with pytest.raises(InvalidData, match="is a FNR, not a DNR"):
        validation.national_number(fnr, kind="DNR")
    with pytest.raises(InvalidData):
        validation.national_number(d_number, kind="FNR")


def test_a_patients_national_numbers_are_stored_without_spaces_and_dashes():
    fnr = factories.synthetic_fnr()
    written = f"{fnr[:6]} {fnr[6:]}"

    checked = validation.valid_patient(
        _patient(identifiers=(IdentifierInput(kind="FNR", value=written),)), today=TODAY
    )

    assert checked.identifiers[0].value == fnr


def test_a_local_record_number_is_not_held_to_the_national_format():
    patient = _patient(identifiers=(IdentifierInput(kind="MR", value="A-17 x"),))

    assert validation.valid_patient(patient, today=TODAY).identifiers[0].value == "A-17 x"


def test_a_birth_date_after_today_is_refused_and_today_is_not():
    with pytest.raises(InvalidData) as refused:
        validation.valid_patient(_patient(birth_date=TODAY + dt.timedelta(days=1)), today=TODAY)

    assert refused.value.problems == (
        Problem(("patient", "birth_date"), validation.FUTURE_BIRTH_DATE),
    )
    assert validation.valid_patient(_patient(birth_date=TODAY), today=TODAY).birth_date == TODAY
    assert validation.valid_patient(_patient(birth_date=None), today=TODAY).birth_date is None


def test_a_new_order_names_everything_it_lacks_at_once():
    order = _new_order(patient=None, study=StudyInput(procedure_text="CT caput"))

    with pytest.raises(InvalidData) as refused:
        validation.valid_order(order, today=TODAY)

    assert [p.path for p in refused.value.problems] == [
        ("patient",),
        ("study", "modality"),
        ("study", "ordered_at"),
    ]
    assert {p.message for p in refused.value.problems} == {validation.REQUIRED}
    assert refused.value.field == "patient"


def test_an_update_or_a_cancel_states_only_what_changes():
    update = OrderInput(
        accession_number="ACC-V1", action=OrderAction.UPDATE, study=StudyInput(priority="STAT")
    )
    cancel = OrderInput(accession_number="ACC-V1", action=OrderAction.CANCEL)

    assert validation.valid_order(update, today=TODAY) == update
    assert validation.valid_order(cancel, today=TODAY) == cancel


def test_every_broken_rule_of_an_order_is_reported_with_its_place():
    fnr = factories.synthetic_fnr()
    patient = _patient(
        identifiers=(
            IdentifierInput(kind="MR", value="A-1"),
            IdentifierInput(kind="FNR", value=_wrong_check_digit(fnr)),
        ),
        birth_date=TODAY + dt.timedelta(days=3),
    )

    with pytest.raises(InvalidData) as refused:
        validation.valid_order(_new_order(patient=patient), today=TODAY)

    errors = refused.value.errors()
    # Nested as a serializer nests them: only the offending identifier carries errors.
    assert errors["patient"]["identifiers"][0] == {}
    assert "check digit" in errors["patient"]["identifiers"][1]["value"][0]
    assert errors["patient"]["birth_date"] == [validation.FUTURE_BIRTH_DATE]
    assert refused.value.field == "patient.identifiers"
    assert "patient.identifiers.1.value: not a valid" in refused.value.describe()


def test_a_channel_that_cannot_refuse_stores_no_birth_date_rather_than_a_wrong_one():
    assert validation.usable_birth_date(TODAY + dt.timedelta(days=1), today=TODAY) is None
    assert validation.usable_birth_date(TODAY, today=TODAY) == TODAY
    assert validation.usable_birth_date(None, today=TODAY) is None


# --- the service holds the rules, whoever calls it ---------------------------------------


@pytest.mark.django_db
def test_the_order_service_refuses_a_future_birth_date_and_writes_nothing(site_a):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)

    with pytest.raises(InvalidData, match="cannot be in the future"):
        order_apply(
            site_id=site_a.id,
            order=_new_order(patient=_patient(birth_date=tomorrow)),
            actor=Actor.for_site(site_a.code),
        )

    assert not Study.objects.exists()
    assert not Patient.objects.exists()
    assert not StudyEvent.objects.exists()


@pytest.mark.django_db
def test_the_order_service_refuses_a_new_order_without_modality(site_a):
    with pytest.raises(InvalidData) as refused:
        order_apply(
            site_id=site_a.id,
            order=_new_order(study=StudyInput(procedure_text="CT caput")),
            actor=Actor.for_site(site_a.code),
        )

    assert refused.value.field == "study.modality"
    assert not Study.objects.exists()


# --- the same rules over each channel ------------------------------------------------------

# (name, the REST order changed, the HL7 order spec changed, REST error path, HL7 location,
# the message's words)
RULES = [
    (
        "national number check digit",
        lambda p: p["patient"]["identifiers"][0].update(
            value=_wrong_check_digit(p["patient"]["identifiers"][0]["value"])
        ),
        lambda s: dataclasses.replace(s, fnr=_wrong_check_digit(s.fnr)),
        ("patient", "identifiers", 0, "value"),
        "PID-3",
        "not a valid national identity number",
    ),
    (
        "birth date in the future",
        lambda p: p["patient"].update(
            birth_date=(timezone.localdate() + dt.timedelta(days=2)).isoformat()
        ),
        lambda s: dataclasses.replace(s, birth_date=timezone.localdate() + dt.timedelta(days=2)),
        ("patient", "birth_date"),
        "PID-7",
        "cannot be in the future",
    ),
]


def _rest_order(accession: str) -> dict[str, Any]:
    return {
        "accession_number": accession,
        "patient": {
            "identifiers": [{"kind": "FNR", "value": factories.synthetic_fnr()}],
            "family_name": "Ødegård",
            "birth_date": "1970-05-17",
        },
        "study": {
            "modality": "CT",
            "procedure": {"code": "SA0AA", "text": "CT caput uten kontrast"},
            "ordered_at": "2026-12-03T08:00:00+01:00",
        },
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "path", "words"),
    [pytest.param(r[1], r[3], r[5], id=r[0]) for r in RULES]
    + [
        pytest.param(
            lambda p: p["study"].pop("modality"),
            ("study", "modality"),
            validation.REQUIRED,
            id="new order without modality",
        )
    ],
)
def test_over_rest_a_broken_rule_is_400_at_its_field_and_the_order_kept_failed(
    site_a_client, change, path, words
):
    payload = _rest_order("ACC-R1")
    change(payload)
    body = json.dumps(payload).encode()

    response = site_a_client.post(ORDERS_URL, data=body, content_type="application/json")

    assert response.status_code == 400, response.data
    node: Any = response.data["errors"]
    for key in path:
        node = node[key]
    assert words in str(node[0])
    kept = InboundMessage.objects.get()
    assert (kept.status, bytes(kept.raw)) == (InboundMessage.Status.FAILED, body)
    assert words in kept.error
    assert response.data["inbound_id"] == kept.id
    assert not Study.objects.exists()
    assert not Patient.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "location", "words"),
    [pytest.param(r[2], r[4], r[5], id=r[0]) for r in RULES],
)
def test_over_hl7_a_broken_rule_is_ae_at_its_field_and_the_message_kept_failed(
    listener, change, location, words
):
    raw = orm_o01(change(spec("ACC-H1")), facility="ALFA")

    ack = send(listener.port, raw)

    assert ack.code == "AE"
    assert f"{location}: {words}" in ack.text
    kept = InboundMessage.objects.get(raw=raw)
    assert kept.status == InboundMessage.Status.FAILED
    assert f"{location}: {words}" in kept.error
    assert not Study.objects.filter(accession_number="ACC-H1").exists()
    assert not Patient.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_over_hl7_a_new_order_without_modality_is_ae_naming_obr_24(listener):
    raw = orm_o01(spec("ACC-H2"), facility="ALFA")
    # The modality is OBR-24 (the last field the simulator writes in OBR): left empty.
    obr = next(line for line in raw.split(b"\r") if line.startswith(b"OBR|"))
    fields = obr.split(b"|")
    assert fields[24] == b"CT"
    fields[24] = b""

    ack = send(listener.port, raw.replace(obr, b"|".join(fields)))

    assert ack.code == "AE"
    assert f"OBR-24: {validation.REQUIRED}" in ack.text
    assert InboundMessage.objects.get().status == InboundMessage.Status.FAILED
    assert not Study.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_over_hl7_a_demographics_update_with_a_future_birth_date_changes_nothing(listener):
    order = spec("ACC-H3")
    assert send(listener.port, orm_o01(order, facility="ALFA")).code == "AA"
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    raw = adt_a08(
        dataclasses.replace(order, family="Bjørnstad", birth_date=tomorrow), facility="ALFA"
    )

    ack = send(listener.port, raw)

    assert ack.code == "AE"
    assert "PID-7: cannot be in the future" in ack.text
    assert InboundMessage.objects.get(raw=raw).status == InboundMessage.Status.FAILED
    patient = Patient.objects.get()
    assert (patient.family_name, patient.birth_date) == ("Ødegård", order.birth_date)


@pytest.fixture
def pacs_port(site_a):
    site_a.dicom_ae_title = "ALFAPACS"
    site_a.save(update_fields=["dicom_ae_title"])
    with running_receiver() as port:
        yield port


@pytest.mark.django_db(transaction=True)
def test_over_dicom_images_with_a_future_birth_date_are_kept_and_the_date_is_not(pacs_port):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    fnr = factories.synthetic_fnr()

    statuses = dicom_send(
        pacs_port,
        [
            instance(
                study_uid=new_uid(),
                accession="D100",
                patient_id=fnr,
                issuer="NO-FREG",
                PatientBirthDate=tomorrow.strftime("%Y%m%d"),
            )
        ],
    )

    assert statuses == [SUCCESS]
    patient = Study.objects.get(accession_number="D100").patient
    assert patient.birth_date is None
    assert patient.identifiers.get().value == fnr


@pytest.mark.django_db(transaction=True)
def test_over_dicom_an_invalid_national_number_names_only_the_sites_record(pacs_port, site_a):
    bad = _wrong_check_digit(factories.synthetic_fnr())

    statuses = dicom_send(
        pacs_port,
        [instance(study_uid=new_uid(), accession="D101", patient_id=bad, issuer="NO-FREG")],
    )

    assert statuses == [SUCCESS]
    identifier = PatientIdentifier.objects.get()
    assert (identifier.kind, identifier.authority, identifier.value) == ("MR", site_a.code, bad)


# --- refusals of each kind, as the REST API answers them --------------------------------


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            InvalidInput("assigning a study needs a reason", field="reason"),
            400,
            {"errors": {"reason": ["assigning a study needs a reason"]}},
        ),
        (StudyNotFound(), 404, {"detail": "No such study."}),
        (
            NotFound("no order ACC-9", field="accession_number"),
            404,
            {"errors": {"accession_number": ["no order ACC-9"]}},
        ),
        (
            NotPermitted("only coordinators assign studies"),
            403,
            {"errors": {"non_field_errors": ["only coordinators assign studies"]}},
        ),
        (
            Conflict("held by another", field="status"),
            409,
            {"errors": {"status": ["held by another"]}},
        ),
    ],
    ids=["invalid", "not-found", "not-found-field", "not-permitted", "conflict"],
)
def test_each_kind_of_domain_error_has_its_status_and_the_errors_shape(error, status, body):
    response = api_exception_handler(error, {})

    assert response is not None
    assert (response.status_code, response.data) == (status, body)


def test_a_refused_inbound_message_is_named_in_the_answer():
    refused = KeptForInspection(
        InvalidData([Problem(("patient", "birth_date"), "cannot be in the future")]),
        inbound_id=41,
    )

    response = api_exception_handler(refused, {})

    assert response is not None
    assert response.status_code == 400
    assert response.data == {
        "errors": {"patient": {"birth_date": ["cannot be in the future"]}},
        "inbound_id": 41,
    }


def test_a_refusal_of_the_transport_keeps_its_status_and_the_errors_shape():
    response = api_exception_handler(KeptForInspection(NotAcceptable(), inbound_id=7), {})

    assert response is not None
    assert response.status_code == 406
    assert list(response.data["errors"]) == ["non_field_errors"]
    assert response.data["inbound_id"] == 7


# --- permission rules live in the service ------------------------------------------------


@pytest.mark.django_db
def test_only_a_coordinator_may_assign_whoever_calls_the_service(
    owner, other_radiologist, site_a, neuro
):
    study = factories.ready_study(site_a, neuro)

    with pytest.raises(NotCoordinator):
        study_coordinator_assign(
            study_id=study.id,
            radiologist_id=other_radiologist.id,
            actor=Actor.for_user(owner.user),
            reason="I know better",
        )

    assert not Assignment.objects.filter(study=study).exists()


@pytest.mark.django_db
def test_over_rest_a_reader_assigning_is_403_and_a_coordinator_is_told_what_is_wrong(
    owner, other_radiologist, coordinator, site_a, neuro, client_for
):
    study = factories.ready_study(site_a, neuro)
    url = reverse("api-study-assign", args=[study.id])
    body = {"radiologist_id": other_radiologist.id, "reason": "surge"}

    as_reader = client_for(owner.user).post(url, body, format="json")
    unknown_reader = client_for(coordinator).post(
        url, {"radiologist_id": 999_999, "reason": "surge"}, format="json"
    )
    no_study = client_for(coordinator).post(
        reverse("api-study-assign", args=[999_999]), body, format="json"
    )

    assert as_reader.status_code == 403
    assert as_reader.data["errors"]["non_field_errors"] == ["only coordinators assign studies"]
    assert unknown_reader.status_code == 400
    assert "radiologist_id" in unknown_reader.data["errors"]
    assert no_study.status_code == 404
    assert not Assignment.objects.exists()
