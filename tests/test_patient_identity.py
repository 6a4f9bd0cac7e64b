"""Patients across sites: each site's demographics are its own record, a conflict alerts a
coordinator, ADT^A40 merges only what the sending site assigned and answers without telling
whether a number is known elsewhere, and users see only identifiers of sites they may see."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.test import APIClient

from demo_ris.orders import adt_a08, adt_a40, orm_o01
from hl7_interface import services
from hl7_interface.models import SiteHl7Config
from tests import factories
from tests.hl7_support import ack_of, spec
from worklists.models import (
    CoordinatorAlert,
    Patient,
    PatientIdentifier,
    PatientRecord,
    SiteApiToken,
    Study,
)
from worklists.services.patient_records import RECORDS_CONFLICT_ALERT
from worklists.services.patients import IDENTIFIER_REFUSED_ALERT

pytestmark = pytest.mark.django_db

PEER = "127.0.0.1:1"


@pytest.fixture
def both_sites(site_a, site_b, general_worklist):
    for site, facility in ((site_a, "ALFA-RIS"), (site_b, "BRAVO-RIS")):
        SiteHl7Config.objects.create(
            site=site, receiving_application="RIS", receiving_facility=facility
        )
    services.sites.clear()
    yield site_a, site_b
    services.sites.clear()


def receive(raw: bytes) -> services.Received:
    return services.hl7_receive(raw=raw, peer=PEER)


def shared_patient(fnr: str, *, b_family: str = "Ødegård") -> Patient:
    """A patient site A ordered first (record number A-1) and site B then ordered too (B-1)."""
    a = receive(orm_o01(spec("A-ACC", fnr=fnr, family="Ødegård", local_id="A-1"), facility="ALFA"))
    b = receive(orm_o01(spec("B-ACC", fnr=fnr, family=b_family, local_id="B-1"), facility="BRAVO"))
    assert (a.ack_code, b.ack_code) == ("AA", "AA")
    return Study.objects.get(accession_number="A-ACC").patient


def study_api(user, accession: str) -> dict:
    client = APIClient()
    client.force_authenticate(user=user)
    study = Study.objects.get(accession_number=accession)
    response = client.get(f"/api/v1/studies/{study.id}")
    assert response.status_code == 200
    return response.data


# --- each site's record --------------------------------------------------------------------


def test_site_b_order_does_not_change_what_site_a_users_see(both_sites, owner, coordinator):
    site_a, site_b = both_sites
    fnr = factories.synthetic_fnr(dt.date(1971, 2, 3))
    order_a = spec("A-ACC", fnr=fnr, family="Ødegård", given="Åse")
    receive(orm_o01(order_a, facility="ALFA"))
    token = SiteApiToken.objects.create(site=site_b)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = client.post(
        "/api/v1/orders",
        {
            "accession_number": "B-ACC",
            "action": "new",
            "patient": {
                "identifiers": [{"kind": "FNR", "value": fnr}],
                "family_name": "Hansen",
                "given_name": "Kari",
                "birth_date": "1971-02-03",
                "sex": "F",
            },
            "study": {
                "modality": "CT",
                "procedure": {"code": "NCRP-CT-CHEST", "text": "CT thorax"},
                "ordered_at": "2026-03-01T10:00:00+01:00",
            },
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    patient = Patient.objects.get()
    assert (patient.family_name, patient.given_name, patient.home_site_id) == (
        "Ødegård",
        "Åse",
        site_a.id,
    )
    seen_by_a = study_api(owner.user, "A-ACC")["patient"]
    assert (seen_by_a["family_name"], seen_by_a["given_name"]) == ("Ødegård", "Åse")
    seen_in_b = study_api(coordinator, "B-ACC")["patient"]
    assert (seen_in_b["family_name"], seen_in_b["given_name"]) == ("Hansen", "Kari")
    client_a = APIClient()
    client_a.force_login(owner.user)
    page = client_a.get(reverse("study", args=[Study.objects.get(accession_number="A-ACC").id]))
    assert "Ødegård, Åse" in page.content.decode()
    assert "Hansen" not in page.content.decode()
    record = PatientRecord.objects.get(patient=patient, site=site_b)
    assert (record.family_name, record.given_name) == ("Hansen", "Kari")


def test_site_b_a08_does_not_change_what_site_a_users_see(both_sites, owner, coordinator):
    fnr = factories.synthetic_fnr(dt.date(1972, 3, 4))
    patient = shared_patient(fnr)
    renamed = spec("B-ACC", fnr=fnr, family="Bjørnstad", local_id="B-1")

    ack = receive(adt_a08(renamed, facility="BRAVO"))

    assert ack.ack_code == "AA"
    patient.refresh_from_db()
    assert patient.family_name == "Ødegård"
    assert study_api(owner.user, "A-ACC")["patient"]["family_name"] == "Ødegård"
    assert study_api(coordinator, "B-ACC")["patient"]["family_name"] == "Bjørnstad"


def test_a_site_changes_its_own_record_with_a08(both_sites, owner):
    fnr = factories.synthetic_fnr(dt.date(1973, 4, 5))
    patient = shared_patient(fnr)

    ack = receive(adt_a08(spec("-", fnr=fnr, family="Strøm", local_id="A-1"), facility="ALFA"))

    assert ack.ack_code == "AA"
    patient.refresh_from_db()
    assert patient.family_name == "Strøm"
    assert study_api(owner.user, "A-ACC")["patient"]["family_name"] == "Strøm"
    assert PatientRecord.objects.get(patient=patient).family_name == "Ødegård"  # B's, untouched


def test_an_a08_from_a_site_that_never_saw_the_patient_changes_nothing(both_sites):
    fnr = factories.synthetic_fnr(dt.date(1974, 5, 6))
    receive(orm_o01(spec("A-ACC", fnr=fnr, family="Ødegård", local_id="A-1"), facility="ALFA"))

    ack = receive(adt_a08(spec("-", fnr=fnr, family="Kaprer", local_id="B-9"), facility="BRAVO"))

    assert ack.ack_code == "AA"  # as for a patient nobody knows
    patient = Patient.objects.get()
    assert patient.family_name == "Ødegård"
    assert not PatientRecord.objects.exists()
    assert not PatientIdentifier.objects.filter(value="B-9").exists()


def test_a_conflict_between_sites_raises_one_alert_per_patient(both_sites):
    fnr = factories.synthetic_fnr(dt.date(1975, 6, 7))
    patient = shared_patient(fnr)
    assert not CoordinatorAlert.objects.exists()  # same name from both: no conflict

    receive(adt_a08(spec("-", fnr=fnr, family="Bjørnstad", local_id="B-1"), facility="BRAVO"))
    receive(adt_a08(spec("-", fnr=fnr, family="Berg", local_id="B-1"), facility="BRAVO"))
    receive(orm_o01(spec("B-2", fnr=fnr, family="Bakke", local_id="B-1"), facility="BRAVO"))

    alert = CoordinatorAlert.objects.get()
    assert (alert.kind, alert.patient_id, alert.resolved_at) == (
        RECORDS_CONFLICT_ALERT,
        patient.id,
        None,
    )
    assert alert.data["fields"] == ["family_name"]
    assert alert.data["sites"] == ["alfa", "bravo"]
    assert alert.study is not None
    assert alert.study.site.code == "bravo"
    patient.refresh_from_db()
    assert patient.records_differ


def test_a_missing_value_at_one_site_is_no_conflict(both_sites):
    fnr = factories.synthetic_fnr(dt.date(1976, 7, 8))
    shared_patient(fnr)

    receive(
        adt_a08(spec("-", fnr=fnr, family="ØDEGÅRD", sex="U", local_id="B-1"), facility="BRAVO")
    )

    assert not CoordinatorAlert.objects.exists()


def test_a_register_record_is_shown_for_every_sites_study(both_sites, owner, coordinator):
    fnr = factories.synthetic_fnr(dt.date(1977, 8, 9))
    patient = shared_patient(fnr, b_family="Bakke")
    PatientRecord.objects.create(
        patient=patient, source=PatientRecord.Source.REGISTER, family_name="Registrert"
    )
    Patient.objects.filter(id=patient.id).update(records_differ=True)

    assert study_api(owner.user, "A-ACC")["patient"]["family_name"] == "Registrert"
    assert study_api(coordinator, "B-ACC")["patient"]["family_name"] == "Registrert"


# --- ADT^A40 --------------------------------------------------------------------------------


def test_a40_with_an_unknown_number_answers_like_a_known_one_and_attaches_nothing(both_sites):
    fnr = factories.synthetic_fnr(dt.date(1978, 9, 10))
    patient = shared_patient(fnr)
    other_fnr = factories.synthetic_fnr(dt.date(1979, 10, 11))
    receive(orm_o01(spec("A-OTHER", fnr=other_fnr, local_id="A-2"), facility="ALFA"))
    unknown_fnr = factories.synthetic_fnr(dt.date(1980, 11, 12))
    before = set(PatientIdentifier.objects.values_list("patient_id", "kind", "authority", "value"))

    to_unknown = receive(
        adt_a40(spec("-", fnr=unknown_fnr), prior_local_id="B-1", facility="BRAVO")
    )
    to_known = receive(adt_a40(spec("-", fnr=other_fnr), prior_local_id="B-1", facility="BRAVO"))

    assert (to_unknown.ack_code, ack_of(to_unknown.ack).text) == (
        to_known.ack_code,
        ack_of(to_known.ack).text,
    )
    assert to_unknown.ack_code == "AE"
    assert not PatientIdentifier.objects.filter(value=unknown_fnr).exists()
    after = set(PatientIdentifier.objects.values_list("patient_id", "kind", "authority", "value"))
    assert after == before
    assert set(Study.objects.values_list("patient_id", flat=True)) == {
        patient.id,
        PatientIdentifier.objects.get(value=other_fnr).patient_id,
    }


def test_a40_cannot_merge_a_national_number_known_or_not(both_sites):
    fnr = factories.synthetic_fnr(dt.date(1981, 1, 2))
    receive(orm_o01(spec("A-ACC", fnr=fnr, local_id="A-1"), facility="ALFA"))
    receive(orm_o01(spec("B-ACC", fnr=factories.synthetic_fnr(), local_id="B-1"), facility="BRAVO"))
    survivor = spec(
        "-",
        fnr=PatientIdentifier.objects.get(authority="bravo")
        .patient.identifiers.get(kind="FNR")
        .value,
        local_id="B-1",
    )

    known = receive(adt_a40(survivor, prior_fnr=fnr, facility="BRAVO"))
    unknown = receive(adt_a40(survivor, prior_fnr=factories.synthetic_fnr(), facility="BRAVO"))

    assert known.ack_code == unknown.ack_code == "AE"
    assert ack_of(known.ack).text == ack_of(unknown.ack).text
    assert "MRG-1" in ack_of(known.ack).text
    assert "own record numbers" in ack_of(known.ack).text
    a_patient = Study.objects.get(accession_number="A-ACC").patient
    assert set(a_patient.identifiers.values_list("value", flat=True)) == {fnr, "A-1"}
    assert a_patient.studies.count() == 1


def test_a40_cannot_name_another_sites_record_number(both_sites):
    fnr = factories.synthetic_fnr(dt.date(1982, 2, 3))
    receive(orm_o01(spec("A-ACC", fnr=fnr, local_id="A-1"), facility="ALFA"))
    a_patient = Study.objects.get(accession_number="A-ACC").patient

    # Site A's number, sent by B: B's numbers are keyed under B, so it names nobody of A's.
    ack = receive(
        adt_a40(spec("-", fnr=factories.synthetic_fnr()), prior_local_id="A-1", facility="BRAVO")
    )

    assert ack.ack_code == "AE"
    assert set(a_patient.identifiers.values_list("value", flat=True)) == {fnr, "A-1"}
    assert a_patient.studies.count() == 1


def test_a40_of_a_patient_only_the_site_holds_merges_into_the_known_patient(both_sites, owner):
    fnr = factories.synthetic_fnr(dt.date(1983, 3, 4))
    receive(orm_o01(spec("A-ACC", fnr=fnr, family="Ødegård", local_id="A-1"), facility="ALFA"))
    temporary = factories.synthetic_fnr(dt.date(1983, 3, 5))
    receive(
        orm_o01(spec("B-ACC", fnr=temporary, family="Odegard", local_id="B-1"), facility="BRAVO")
    )

    ack = receive(
        adt_a40(spec("-", fnr=fnr, family="Odegard"), prior_local_id="B-1", facility="BRAVO")
    )

    assert ack.ack_code == "AA"
    survivor = Study.objects.get(accession_number="A-ACC").patient
    assert Study.objects.get(accession_number="B-ACC").patient == survivor
    survivor.refresh_from_db()
    assert survivor.family_name == "Ødegård"  # site A's record stays A's
    assert PatientRecord.objects.get(patient=survivor, site__code="bravo").family_name == "Odegard"
    assert study_api(owner.user, "A-ACC")["patient"]["family_name"] == "Ødegård"


def test_a_new_national_number_is_not_added_to_a_patient_other_sites_hold(both_sites):
    fnr = factories.synthetic_fnr(dt.date(1984, 4, 5))
    patient = shared_patient(fnr)
    second = factories.synthetic_fnr(dt.date(1984, 4, 6))
    order = spec("B-2", fnr=second, local_id="B-1")

    ack = receive(orm_o01(order, facility="BRAVO"))

    assert ack.ack_code == "AA"
    assert Study.objects.get(accession_number="B-2").patient_id == patient.id
    assert not PatientIdentifier.objects.filter(value=second).exists()
    assert CoordinatorAlert.objects.get().kind == IDENTIFIER_REFUSED_ALERT


# --- identifiers of sites a user may not see --------------------------------------------------


def test_identifiers_of_unseen_sites_are_hidden_on_the_page_and_in_the_api(
    both_sites, owner, coordinator
):
    fnr = factories.synthetic_fnr(dt.date(1985, 5, 6))
    shared_patient(fnr)
    study = Study.objects.get(accession_number="A-ACC")
    client = APIClient()
    client.force_login(owner.user)

    page = client.get(reverse("study", args=[study.id])).content.decode()
    owners = study_api(owner.user, "A-ACC")["patient"]["identifiers"]
    listed = APIClient()
    listed.force_authenticate(user=owner.user)
    rows = listed.get("/api/v1/studies").data["results"]
    coordinators = study_api(coordinator, "A-ACC")["patient"]["identifiers"]

    assert fnr in page
    assert "A-1" in page
    assert "B-1" not in page
    assert {(i["authority"], i["value"]) for i in owners} == {("NO-FREG", fnr), ("alfa", "A-1")}
    assert [{i["value"] for i in row["patient"]["identifiers"]} for row in rows] == [{fnr, "A-1"}]
    assert {i["value"] for i in coordinators} == {fnr, "A-1", "B-1"}


# --- the backfill -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_site_its_record_and_the_first_its_home(site_a, site_b):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    before = [("worklists", "0015_api_tokens_hashed_contract")]
    try:
        executor.migrate(before)
        executor.loader.build_graph()
        apps = executor.loader.project_state(before).apps
        old_patient = apps.get_model("worklists", "Patient")
        old_study = apps.get_model("worklists", "Study")
        patient = old_patient.objects.create(family_name="Ås", given_name="Bjørn", sex="M")
        for site, when in ((site_b, "2026-01-01T10:00Z"), (site_a, "2026-02-01T10:00Z")):
            old_study.objects.create(
                site_id=site.id,
                patient=patient,
                accession_number=f"OLD-{site.code}",
                study_instance_uid=f"1.2.3.{site.id}",
                modality="CT",
                procedure_text="CT",
                priority="ROUTINE",
                ordered_at=when,
                status="ORDERED",
                status_changed_at=when,
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    migrated = Patient.objects.get()
    assert migrated.home_site_id == site_b.id
    record = PatientRecord.objects.get()
    assert (record.site_id, record.family_name, record.given_name) == (site_a.id, "Ås", "Bjørn")
    assert not migrated.records_differ
