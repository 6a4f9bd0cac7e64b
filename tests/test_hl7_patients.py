"""ADT^A08 demographics updates and ADT^A40 merges, over the listener and at the service."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from demo_ris.orders import adt_a08, adt_a40, orm_o01
from tests import factories
from tests.hl7_support import hl7_site, listener, send, spec
from worklists.actors import Actor
from worklists.models import InboundMessage, Patient, PatientIdentifier, Study, StudyEvent
from worklists.services.orders import OrderAction, OrderInput, StudyInput, order_apply
from worklists.services.patient_identifiers import (
    IdentifierInput,
    PatientConflict,
    PatientInput,
    PatientNotFound,
)
from worklists.services.patient_merge import patient_merge

pytestmark = pytest.mark.django_db(transaction=True)
# Fixtures shared by the HL7 modules (pytest finds them by name in this module).
FIXTURES = (hl7_site, listener)


def test_a08_updates_the_demographics_of_a_known_patient(listener):
    order = spec("ACC-A08", family="Ødegård", given="Åse")
    send(listener.port, orm_o01(order, facility="ALFA"))
    renamed = dataclasses.replace(order, family="Bjørnstad", given="Åse Marie", sex="F")

    ack = send(listener.port, adt_a08(renamed, facility="ALFA"))

    assert ack.code == "AA"
    patient = Study.objects.get(accession_number="ACC-A08").patient
    assert (patient.family_name, patient.given_name) == ("Bjørnstad", "Åse Marie")
    assert InboundMessage.objects.latest("id").status == "APPLIED"
    assert Patient.objects.count() == 1


def test_a08_for_a_patient_never_ordered_here_creates_nobody(listener):
    ack = send(listener.port, adt_a08(spec("-"), facility="ALFA"))

    assert ack.code == "AA"
    assert not Patient.objects.exists()


def test_a08_chooses_identifiers_by_authority_not_position(listener):
    order = spec("ACC-AUTH", local_id="MRN-77")
    send(listener.port, orm_o01(order, facility="ALFA"))
    raw = adt_a08(dataclasses.replace(order, family="Strøm"), facility="ALFA")
    # Another hospital's record number first, ours after it: only ours and the FNR count.
    raw = raw.replace(b"PID|1||", b"PID|1||999^^^OTHERHOSP^MR~", 1)

    assert send(listener.port, raw).code == "AA"
    patient = Study.objects.get(accession_number="ACC-AUTH").patient
    assert patient.family_name == "Strøm"
    assert set(patient.identifiers.values_list("kind", "authority", "value")) == {
        ("FNR", "NO-FREG", order.fnr),
        ("MR", "alfa", "MRN-77"),
    }


def test_a40_merges_the_prior_patient_and_moves_the_studies(listener):
    survivor_order = spec("ACC-S1", family="Løvås", given="Kåre")
    send(listener.port, orm_o01(survivor_order, facility="ALFA"))
    prior_fnr = factories.synthetic_fnr(dt.date(1970, 5, 17))
    for accession in ("ACC-P1", "ACC-P2"):
        send(
            listener.port,
            orm_o01(
                spec(accession, fnr=prior_fnr, family="Løvaas", local_id="MRN-PRIOR"),
                facility="ALFA",
            ),
        )
    survivor = Study.objects.get(accession_number="ACC-S1").patient
    prior = Study.objects.get(accession_number="ACC-P1").patient
    assert survivor != prior

    ack = send(listener.port, adt_a40(survivor_order, prior_local_id="MRN-PRIOR", facility="ALFA"))

    assert ack.code == "AA"
    assert set(survivor.studies.values_list("accession_number", flat=True)) == {
        "ACC-S1",
        "ACC-P1",
        "ACC-P2",
    }
    assert not prior.studies.exists()
    assert PatientIdentifier.objects.get(value=prior_fnr).patient == survivor
    moved = StudyEvent.objects.filter(reason="patient merged")
    assert moved.count() == 2
    assert moved.first().data == {"from_patient_id": prior.id, "to_patient_id": survivor.id}

    # Repeated (a new message id): nothing left to move, nothing changes.
    again = send(
        listener.port, adt_a40(survivor_order, prior_local_id="MRN-PRIOR", facility="ALFA")
    )
    assert again.code == "AA"
    assert StudyEvent.objects.filter(reason="patient merged").count() == 2


def test_a40_with_an_unknown_prior_patient_is_ae_naming_mrg1(listener):
    ack = send(listener.port, adt_a40(spec("-"), prior_local_id="MRN-NOBODY", facility="ALFA"))

    assert ack.code == "AE"
    assert "MRG-1" in ack.text
    assert InboundMessage.objects.get().status == "FAILED"


def test_a40_to_identifiers_nobody_holds_renames_the_prior_patient(hl7_site):
    patient = factories.PatientFactory(family_name="Hæhre")
    old_fnr = patient.identifiers.get().value
    patient.identifiers.create(kind="MR", authority=hl7_site.code, value="MRN-H")
    new_fnr = factories.synthetic_fnr(dt.date(1980, 2, 3))

    change = patient_merge(
        site_id=hl7_site.id,
        surviving=PatientInput(
            identifiers=(IdentifierInput(kind="FNR", value=new_fnr),), family_name="Hæhre"
        ),
        prior=(IdentifierInput(kind="MR", value="MRN-H"),),
        actor=Actor.for_site("alfa"),
    )

    assert change.patient_id == patient.id
    assert set(patient.identifiers.values_list("value", flat=True)) == {old_fnr, "MRN-H", new_fnr}


def test_a_merge_without_any_prior_identifier_held_raises(hl7_site):
    with pytest.raises(PatientNotFound):
        patient_merge(
            site_id=hl7_site.id,
            surviving=PatientInput(identifiers=(), family_name="X"),
            prior=(IdentifierInput(kind="MR", value="nobody"),),
            actor=Actor.for_site("alfa"),
        )


def test_a_merge_racing_orders_for_the_prior_patient_leaves_every_study_with_the_survivor(
    hl7_site, general_worklist
):
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("concurrency is tested on PostgreSQL (set DATABASE_URL)")
    prior_fnr = factories.synthetic_fnr(dt.date(1961, 3, 4))
    survivor_fnr = factories.synthetic_fnr(dt.date(1962, 4, 5))
    actor = Actor.for_site("alfa")

    def order(accession: str, fnr: str) -> OrderInput:
        return OrderInput(
            accession_number=accession,
            action=OrderAction.NEW,
            patient=PatientInput(
                identifiers=(
                    IdentifierInput(kind="FNR", value=fnr),
                    IdentifierInput(kind="MR", value=f"MR-{fnr}"),
                ),
                family_name="Løvås",
            ),
            study=StudyInput(modality="CT", procedure_text="CT caput", ordered_at=timezone.now()),
        )

    order_apply(site_id=hl7_site.id, order=order("RACE-S", survivor_fnr), actor=actor)
    order_apply(site_id=hl7_site.id, order=order("RACE-P", prior_fnr), actor=actor)
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def orders(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(5):
                order_apply(
                    site_id=hl7_site.id, order=order(f"RACE-{index}-{n}", prior_fnr), actor=actor
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def merge() -> None:
        try:
            barrier.wait(timeout=10)
            patient_merge(
                site_id=hl7_site.id,
                surviving=PatientInput(
                    identifiers=(IdentifierInput(kind="FNR", value=survivor_fnr),),
                    family_name="Løvås",
                ),
                prior=(IdentifierInput(kind="MR", value=f"MR-{prior_fnr}"),),
                actor=actor,
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=orders, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=merge))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    survivor = PatientIdentifier.objects.get(value=survivor_fnr).patient
    assert PatientIdentifier.objects.get(value=prior_fnr).patient == survivor
    assert Study.objects.count() == 22
    assert set(Study.objects.values_list("patient_id", flat=True)) == {survivor.id}


def test_one_sites_a40_cannot_move_another_sites_studies_to_a_different_person(
    hl7_site, site_b, general_worklist
):
    prior_fnr = factories.synthetic_fnr(dt.date(1955, 1, 2))
    survivor_fnr = factories.synthetic_fnr(dt.date(1956, 2, 3))
    actor = Actor.for_site("alfa")

    def order(site_id: int, accession: str, fnr: str) -> None:
        order_apply(
            site_id=site_id,
            order=OrderInput(
                accession_number=accession,
                action=OrderAction.NEW,
                patient=PatientInput(
                    identifiers=(
                        IdentifierInput(kind="FNR", value=fnr),
                        IdentifierInput(kind="MR", value=f"MR-{fnr}"),
                    ),
                    family_name="Hæhre",
                ),
                study=StudyInput(
                    modality="CT", procedure_text="CT thorax", ordered_at=timezone.now()
                ),
            ),
            actor=actor,
        )

    order(hl7_site.id, "OURS-1", survivor_fnr)
    order(hl7_site.id, "OURS-2", prior_fnr)
    order(site_b.id, "THEIRS-1", prior_fnr)
    prior_patient = PatientIdentifier.objects.get(value=prior_fnr).patient_id

    with pytest.raises(PatientConflict, match="other sites"):
        patient_merge(
            site_id=hl7_site.id,
            surviving=PatientInput(
                identifiers=(IdentifierInput(kind="FNR", value=survivor_fnr),),
                family_name="Hæhre",
            ),
            prior=(IdentifierInput(kind="MR", value=f"MR-{prior_fnr}"),),
            actor=actor,
        )

    assert Study.objects.get(accession_number="THEIRS-1").patient_id == prior_patient
    assert Study.objects.get(accession_number="OURS-2").patient_id == prior_patient
    assert PatientIdentifier.objects.get(value=prior_fnr).patient_id == prior_patient


def test_a_merge_racing_updates_of_the_prior_patients_orders_does_not_deadlock(
    hl7_site, general_worklist
):
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("concurrency is tested on PostgreSQL (set DATABASE_URL)")
    actor = Actor.for_site("alfa")

    def order(accession: str, fnr: str, action: OrderAction, text: str) -> OrderInput:
        return OrderInput(
            accession_number=accession,
            action=action,
            patient=PatientInput(
                identifiers=(
                    IdentifierInput(kind="FNR", value=fnr),
                    IdentifierInput(kind="MR", value=f"MR-{fnr}"),
                ),
                family_name="Strøm",
            ),
            study=StudyInput(modality="CT", procedure_text=text, ordered_at=timezone.now()),
        )

    def one_round(round_number: int) -> None:
        prior_fnr = factories.synthetic_fnr(dt.date(1940 + round_number, 3, 4))
        survivor_fnr = factories.synthetic_fnr(dt.date(1970 + round_number, 4, 5))
        accessions = [f"UPD-{round_number}-{n}" for n in range(4)]
        order_apply(
            site_id=hl7_site.id,
            order=order(f"SURV-{round_number}", survivor_fnr, OrderAction.NEW, "CT caput"),
            actor=actor,
        )
        for accession in accessions:
            order_apply(
                site_id=hl7_site.id,
                order=order(accession, prior_fnr, OrderAction.NEW, "CT caput"),
                actor=actor,
            )
        barrier = threading.Barrier(len(accessions) + 1)
        errors: list[BaseException] = []

        def update(accession: str, fnr: str = prior_fnr) -> None:
            try:
                barrier.wait(timeout=10)
                order_apply(
                    site_id=hl7_site.id,
                    order=order(accession, fnr, OrderAction.UPDATE, "CT caput med kontrast"),
                    actor=actor,
                )
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        def merge(prior: str = prior_fnr, survivor: str = survivor_fnr) -> None:
            try:
                barrier.wait(timeout=10)
                patient_merge(
                    site_id=hl7_site.id,
                    surviving=PatientInput(
                        identifiers=(IdentifierInput(kind="FNR", value=survivor),),
                        family_name="Strøm",
                    ),
                    prior=(IdentifierInput(kind="MR", value=f"MR-{prior}"),),
                    actor=actor,
                )
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=update, args=(a,)) for a in accessions]
        threads.append(threading.Thread(target=merge))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert errors == []
        survivor = PatientIdentifier.objects.get(value=survivor_fnr).patient_id
        assert set(
            Study.objects.filter(accession_number__in=accessions).values_list(
                "patient_id", flat=True
            )
        ) == {survivor}

    for round_number in range(5):
        one_round(round_number)
