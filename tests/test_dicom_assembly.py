"""Study assembly over real TCP: instances update their study, create one without an order,
meet their order later, and never merge a different patient silently."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dicom.metadata import parse_instance
from dicom.models import DicomInstance, DicomSiteSettings, StudyImages
from dicom.scp import SUCCESS
from dicom.services.associations import SiteContext
from dicom.services.completion import study_images_complete_quiet
from dicom.services.instances import PATIENT_MISMATCH_ALERT, instance_receive
from tests import factories
from tests.dicom_support import (
    SITE_AE,
    instance,
    let_quiet_period_pass,
    new_uid,
    running_receiver,
    send,
)
from worklists.actors import Actor
from worklists.models import (
    CoordinatorAlert,
    Patient,
    PatientIdentifier,
    Study,
    StudyEvent,
    StudyStatus,
)
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
    order_apply,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pacs_site(site_a, general_worklist):
    site_a.dicom_ae_title = SITE_AE
    site_a.save(update_fields=["dicom_ae_title"])
    return site_a


@pytest.fixture
def port(pacs_site):
    with running_receiver() as port:
        yield port


def order(site, accession: str, fnr: str, **study: object) -> Study:
    fields: dict[str, object] = {
        "modality": "CT",
        "procedure_text": "CT caput uten kontrast",
        "ordered_at": timezone.now(),
        **study,
    }
    return order_apply(
        site_id=site.id,
        order=OrderInput(
            accession_number=accession,
            action=OrderAction.NEW,
            patient=PatientInput(
                identifiers=(IdentifierInput(kind="FNR", value=fnr),),
                family_name="Ødegård",
                given_name="Åse",
            ),
            study=StudyInput(**fields),  # type: ignore[arg-type]
        ),
        actor=Actor.for_site(site.code),
    ).study


def test_order_then_images_counts_series_instances_and_keeps_study_attributes(pacs_site, port):
    fnr = factories.synthetic_fnr()
    study = order(pacs_site, "A100", fnr)
    study_uid, ct_series = new_uid(), new_uid()
    datasets = [
        instance(study_uid=study_uid, series_uid=ct_series, accession="A100", patient_id=fnr),
        instance(study_uid=study_uid, series_uid=ct_series, accession="A100", patient_id=fnr),
        instance("MR_small.dcm", study_uid=study_uid, accession="A100", patient_id=fnr),
    ]

    assert send(port, datasets) == [SUCCESS] * 3

    images = StudyImages.objects.get(study=study)
    assert (images.series_count, images.instance_count) == (2, 3)
    assert images.modalities == ["CT", "MR"]
    assert images.institution == "JFK IMAGING CENTER"
    assert images.description == "e+1"
    assert images.patient_id == fnr
    assert not images.images_without_order
    assert not images.complete
    study.refresh_from_db()
    assert study.status == StudyStatus.ORDERED
    assert study.study_instance_uid == study_uid  # the order had none; the viewer needs it
    assert Patient.objects.count() == 1


def test_order_then_images_becomes_ready_after_the_quiet_period(pacs_site, port):
    fnr = factories.synthetic_fnr()
    study = order(pacs_site, "A101", fnr)
    send(port, [instance(study_uid=new_uid(), accession="A101", patient_id=fnr)])

    assert study_images_complete_quiet() == []  # not quiet yet
    let_quiet_period_pass(study.id)
    assert study_images_complete_quiet() == [study.id]

    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert study.images_available
    event = study.events.get(to_status=StudyStatus.READY)
    assert (event.reason, event.actor_label) == ("images complete", "system:dicom")
    assert StudyImages.objects.get(study=study).complete


def test_images_without_order_create_a_flagged_study_with_the_images_patient(pacs_site, port):
    fnr = factories.synthetic_fnr(dt.date(1988, 3, 9))
    study_uid = new_uid()

    statuses = send(
        port, [instance(study_uid=study_uid, accession="B200", patient_id=fnr, issuer="NO-FREG")]
    )

    assert statuses == [SUCCESS]
    study = Study.objects.get()
    assert (study.accession_number, study.status) == ("B200", StudyStatus.ORDERED)
    assert study.study_instance_uid == study_uid
    assert (study.modality, study.procedure_text) == ("CT", "e+1")
    assert study.patient.family_name == "CompressedSamples"
    identifier = PatientIdentifier.objects.get(patient=study.patient)
    assert (identifier.kind, identifier.authority, identifier.value) == ("FNR", "NO-FREG", fnr)
    assert StudyImages.objects.get(study=study).images_without_order
    created = StudyEvent.objects.get(study=study)
    assert (created.from_status, created.to_status) == ("", StudyStatus.ORDERED)
    assert created.reason == "images received without an order"
    assert created.actor_label == f"system:dicom:{SITE_AE}"


def test_images_then_order_stays_ordered_when_complete_until_the_order_arrives(pacs_site, port):
    fnr = factories.synthetic_fnr(dt.date(1975, 1, 2))
    send(port, [instance(study_uid=new_uid(), accession="B201", patient_id=fnr)])
    study = Study.objects.get()
    let_quiet_period_pass(study.id)

    assert study_images_complete_quiet() == [study.id]
    study.refresh_from_db()
    assert study.status == StudyStatus.ORDERED  # complete, but no order yet

    arrived = order(pacs_site, "B201", fnr, procedure_text="CT thorax", body_part="CHEST")

    assert arrived.id == study.id
    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert study.procedure_text == "CT thorax"  # the order's words, not the images'
    images = StudyImages.objects.get(study=study)
    assert images.order_arrived_at is not None
    assert images.images_without_order
    assert Patient.objects.count() == 1


def test_an_order_arriving_while_images_still_come_opens_the_study_once_they_are_quiet(
    pacs_site, port
):
    fnr = factories.synthetic_fnr(dt.date(1962, 7, 30))
    send(port, [instance(study_uid=new_uid(), accession="B202", patient_id=fnr)])
    study = order(pacs_site, "B202", fnr)
    assert study.status == StudyStatus.ORDERED

    let_quiet_period_pass(study.id)
    study_images_complete_quiet()

    study.refresh_from_db()
    assert study.status == StudyStatus.READY


def test_an_images_only_site_opens_the_study_on_its_own(pacs_site, port):
    DicomSiteSettings.objects.create(site=pacs_site, images_only=True)
    send(port, [instance(study_uid=new_uid(), accession="", patient_id="LOCAL-77")])
    study = Study.objects.get()
    assert study.accession_number.startswith("UID-")  # none sent: derived from the UID
    identifier = PatientIdentifier.objects.get(patient=study.patient)
    assert (identifier.kind, identifier.authority) == ("MR", pacs_site.code)

    let_quiet_period_pass(study.id)
    study_images_complete_quiet()

    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert study.worklist is not None
    assert study.deadline is not None


def test_images_of_another_patient_hold_the_study_and_alert_coordinators(pacs_site, port):
    study = order(pacs_site, "C300", factories.synthetic_fnr(dt.date(1950, 2, 2)))
    someone_else = factories.PatientFactory(fnr=factories.synthetic_fnr(dt.date(1951, 3, 3)))
    their_fnr = someone_else.identifiers.get().value

    statuses = send(port, [instance(study_uid=new_uid(), accession="C300", patient_id=their_fnr)])

    assert statuses == [SUCCESS]  # the instance is kept; the study is what is held
    study.refresh_from_db()
    assert study.status == StudyStatus.ON_HOLD
    assert study.patient_id != someone_else.id  # not merged
    assert "patient mismatch" in study.events.get(to_status=StudyStatus.ON_HOLD).reason
    alert = CoordinatorAlert.objects.get(kind=PATIENT_MISMATCH_ALERT, study=study)
    assert alert.is_open
    assert "another patient" in alert.message
    images = StudyImages.objects.get(study=study)
    assert images.patient_mismatch
    assert images.instance_count == 1

    let_quiet_period_pass(study.id)
    study_images_complete_quiet()
    study.refresh_from_db()
    assert study.status == StudyStatus.ON_HOLD  # completion does not open a held study
    assert study.images_available  # releasing the hold will


def test_a_different_national_number_than_the_orders_is_a_mismatch(pacs_site, port):
    study = order(pacs_site, "C301", factories.synthetic_fnr(dt.date(1950, 2, 4)))
    unknown_fnr = factories.synthetic_fnr(dt.date(1990, 9, 9))

    send(port, [instance(study_uid=new_uid(), accession="C301", patient_id=unknown_fnr)])

    study.refresh_from_db()
    assert study.status == StudyStatus.ON_HOLD
    assert CoordinatorAlert.objects.filter(kind=PATIENT_MISMATCH_ALERT, study=study).exists()


def test_an_unknown_local_patient_id_is_not_taken_for_a_mismatch(pacs_site, port):
    study = order(pacs_site, "C302", factories.synthetic_fnr(dt.date(1950, 2, 6)))

    send(port, [instance(study_uid=new_uid(), accession="C302", patient_id="RIS-123")])

    study.refresh_from_db()
    assert study.status == StudyStatus.ORDERED
    assert not CoordinatorAlert.objects.exists()
    assert not PatientIdentifier.objects.filter(value="RIS-123").exists()  # nothing merged


def test_instances_naming_two_patients_in_one_study_hold_it(pacs_site, port):
    fnr = factories.synthetic_fnr(dt.date(1944, 4, 4))
    study_uid = new_uid()
    send(
        port,
        [
            instance(study_uid=study_uid, accession="C303", patient_id=fnr),
            instance(study_uid=study_uid, accession="C303", patient_id="OTHER-1"),
        ],
    )

    study = Study.objects.get()
    assert study.status == StudyStatus.ON_HOLD
    assert "different patients" in CoordinatorAlert.objects.get(study=study).message


def test_instances_after_ready_are_recorded_as_late_and_change_no_status(pacs_site, port):
    fnr = factories.synthetic_fnr(dt.date(1966, 6, 6))
    study = order(pacs_site, "D400", fnr)
    study_uid = new_uid()
    send(port, [instance(study_uid=study_uid, accession="D400", patient_id=fnr)])
    let_quiet_period_pass(study.id)
    study_images_complete_quiet()

    before_late = timezone.now()
    late = instance("MR_small.dcm", study_uid=study_uid, accession="D400", patient_id=fnr)
    assert send(port, [late]) == [SUCCESS]

    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert study.updated_at >= before_late  # a resyncing page refetches it
    images = StudyImages.objects.get(study=study)
    assert (images.instance_count, images.late_instance_count) == (2, 1)
    assert images.complete
    assert DicomInstance.objects.get(is_late=True).sop_instance_uid == late.SOPInstanceUID


def test_the_same_instance_sent_twice_is_counted_once(pacs_site, port):
    ds = instance(study_uid=new_uid(), accession="E500", patient_id="P1")

    assert send(port, [ds, ds]) == [SUCCESS, SUCCESS]

    images = StudyImages.objects.get()
    assert (images.series_count, images.instance_count) == (1, 1)
    assert DicomInstance.objects.count() == 1


def test_instances_without_accession_find_their_order_by_study_instance_uid(pacs_site, port):
    fnr = factories.synthetic_fnr(dt.date(1933, 3, 3))
    study_uid = new_uid()
    study = order(pacs_site, "F600", fnr, study_instance_uid=study_uid)

    send(port, [instance(study_uid=study_uid, accession="", patient_id=fnr)])

    assert Study.objects.count() == 1
    assert StudyImages.objects.get().study_id == study.id


def test_receiving_into_a_known_study_takes_a_handful_of_queries(
    pacs_site, django_assert_max_num_queries
):
    fnr = factories.synthetic_fnr(dt.date(1977, 7, 7))
    order(pacs_site, "G700", fnr)
    context = SiteContext(
        site_id=pacs_site.id, site_code=pacs_site.code, calling_ae_title=SITE_AE, peer_address=""
    )
    study_uid, series_uid = new_uid(), new_uid()

    def receive() -> None:
        ds = instance(study_uid=study_uid, series_uid=series_uid, accession="G700", patient_id=fnr)
        instance_receive(context=context, meta=parse_instance(ds))

    receive()  # the first instance creates the image state and checks the patient
    # Lock the study, read its image state with the series, insert (a duplicate is a conflict
    # that inserts nothing), update the counts: four, plus the savepoint pair inside the
    # test's own transaction.
    with django_assert_max_num_queries(6):
        receive()
    assert StudyImages.objects.get().instance_count == 2


def test_a_late_instance_of_a_known_series_is_recorded_as_late(pacs_site, port):
    fnr = factories.synthetic_fnr(dt.date(1967, 7, 7))
    study = order(pacs_site, "D401", fnr)
    study_uid, series_uid = new_uid(), new_uid()
    first = instance(study_uid=study_uid, series_uid=series_uid, accession="D401", patient_id=fnr)
    send(port, [first])
    let_quiet_period_pass(study.id)
    study_images_complete_quiet()

    before_late = timezone.now()
    late = instance(study_uid=study_uid, series_uid=series_uid, accession="D401", patient_id=fnr)
    assert send(port, [late, late]) == [SUCCESS, SUCCESS]

    study.refresh_from_db()
    assert study.updated_at >= before_late  # a resyncing page refetches it

    images = StudyImages.objects.get(study=study)
    assert (images.instance_count, images.late_instance_count, images.series_count) == (2, 1, 1)
    assert images.complete
    assert images.last_late_at is not None
    assert DicomInstance.objects.get(is_late=True).sop_instance_uid == late.SOPInstanceUID


def test_more_instances_of_a_known_series_before_ready_restart_the_quiet_period(pacs_site, port):
    study_uid, series_uid = new_uid(), new_uid()
    send(port, [instance(study_uid=study_uid, series_uid=series_uid, accession="W2")])
    images = StudyImages.objects.get()
    let_quiet_period_pass(images.study_id)
    assert study_images_complete_quiet() == [images.study_id]  # complete, waiting for its order
    before = StudyImages.objects.get().last_instance_at

    send(port, [instance(study_uid=study_uid, series_uid=series_uid, accession="W2")])

    images.refresh_from_db()
    assert not images.complete
    assert images.completed_at is None
    assert images.instance_count == 2
    assert images.last_instance_at > before
    assert not DicomInstance.objects.filter(is_late=True).exists()


def test_an_order_naming_another_patient_than_the_images_is_applied_held_and_alerted(
    pacs_site, port
):
    images_fnr = factories.synthetic_fnr(dt.date(1980, 8, 8))
    send(port, [instance(study_uid=new_uid(), accession="H800", patient_id=images_fnr)])
    study = Study.objects.get()
    images_patient_id = study.patient_id
    order_fnr = factories.synthetic_fnr(dt.date(1981, 9, 9))

    ordered = order(pacs_site, "H800", order_fnr, procedure_text="CT thorax", priority="STAT")

    study.refresh_from_db()
    assert ordered.id == study.id
    # The order is applied (it names the study's patient and procedure) ...
    assert study.procedure_text == "CT thorax"
    assert study.priority == "STAT"
    order_patient = PatientIdentifier.objects.get(value=order_fnr).patient
    assert study.patient_id == order_patient.id
    # ... but nobody reads it until a coordinator has resolved whose images these are.
    assert study.status == StudyStatus.ON_HOLD
    hold = StudyEvent.objects.filter(study=study, to_status=StudyStatus.ON_HOLD).get()
    assert hold.reason.startswith("patient mismatch: ")
    assert "another patient" in hold.reason
    alert = CoordinatorAlert.objects.get(kind=PATIENT_MISMATCH_ALERT, study=study)
    assert alert.resolved_at is None
    assert alert.data["images_patient_id"] == images_patient_id
    assert alert.data["study_patient_id"] == order_patient.id
    # Never merged: both patients still exist, each with their own identifier.
    assert Patient.objects.count() == 2
    assert PatientIdentifier.objects.get(value=images_fnr).patient_id == images_patient_id
    images = StudyImages.objects.get(study=study)
    assert images.patient_mismatch
    assert images.order_arrived_at is not None


def test_complete_images_of_a_study_held_for_the_orders_patient_open_it_on_release(pacs_site, port):
    from worklists.services.studies import study_release_hold

    send(port, [instance(study_uid=new_uid(), accession="H801")])
    study = Study.objects.get()
    let_quiet_period_pass(study.id)
    assert study_images_complete_quiet() == [study.id]  # complete, waiting for its order

    order(pacs_site, "H801", factories.synthetic_fnr(dt.date(1982, 2, 2)))

    study.refresh_from_db()
    assert study.status == StudyStatus.ON_HOLD
    assert study.images_available
    study_release_hold(study_id=study.id, actor=Actor.for_site(pacs_site.code), reason="checked")
    study.refresh_from_db()
    assert study.status == StudyStatus.READY


def test_an_order_changing_the_patient_of_an_ordered_study_is_still_refused(pacs_site, port):
    from worklists.services.orders import OrderConflict

    order(pacs_site, "H802", factories.synthetic_fnr(dt.date(1983, 3, 3)))

    with pytest.raises(OrderConflict, match="belongs to another patient"):
        order(pacs_site, "H802", factories.synthetic_fnr(dt.date(1984, 4, 4)))

    assert Study.objects.get().status == StudyStatus.ORDERED
    assert not CoordinatorAlert.objects.exists()


def test_an_hl7_order_naming_another_patient_than_the_images_is_aa_and_held(pacs_site, port):
    from demo_ris.orders import OrderSpec, orm_o01
    from hl7_interface import services
    from hl7_interface.models import SiteHl7Config
    from tests.hl7_support import ack_of

    SiteHl7Config.objects.create(
        site=pacs_site, receiving_application="RIS", receiving_facility="ALFA-RIS"
    )
    services.sites.clear()
    send(port, [instance(study_uid=new_uid(), accession="H803")])
    raw = orm_o01(
        OrderSpec(accession="H803", fnr=factories.synthetic_fnr(dt.date(1985, 5, 5))),
        facility=pacs_site.hl7_sending_facility,
    )

    result = services.hl7_receive(raw=raw, peer="127.0.0.1:1")
    services.sites.clear()

    assert ack_of(result.ack).code == "AA"
    study = Study.objects.get()
    assert study.status == StudyStatus.ON_HOLD
    assert CoordinatorAlert.objects.filter(kind=PATIENT_MISMATCH_ALERT, study=study).exists()


def test_an_order_with_the_images_study_uid_adopts_the_study_made_without_an_accession(
    pacs_site, port
):
    fnr = factories.synthetic_fnr(dt.date(1986, 6, 6))
    study_uid = new_uid()
    send(port, [instance(study_uid=study_uid, accession="", patient_id=fnr)])
    made = Study.objects.get()
    assert made.accession_number.startswith("UID-")
    let_quiet_period_pass(made.id)
    assert study_images_complete_quiet() == [made.id]  # complete, waiting for its order

    ordered = order(
        pacs_site, "J900", fnr, study_instance_uid=study_uid, procedure_text="CT abdomen"
    )

    assert Study.objects.count() == 1
    study = Study.objects.get()
    assert ordered.id == study.id == made.id
    assert study.accession_number == "J900"
    assert study.procedure_text == "CT abdomen"
    assert study.study_instance_uid == study_uid
    assert study.status == StudyStatus.READY  # the images were complete: the order opens it
    images = StudyImages.objects.get(study=study)
    assert images.order_arrived_at is not None
    assert StudyEvent.objects.filter(study=study, data__accession_number__to="J900").exists()

    # The same order again changes nothing; more images without an accession still find it.
    order(pacs_site, "J900", fnr, study_instance_uid=study_uid, procedure_text="CT abdomen")
    send(port, [instance(study_uid=study_uid, accession="", patient_id=fnr)])
    assert Study.objects.count() == 1
    assert StudyImages.objects.get().instance_count == 2


def test_an_hl7_order_with_the_images_study_uid_adopts_the_images_first_study(pacs_site, port):
    from demo_ris.orders import OrderSpec, orm_o01
    from hl7_interface import services
    from hl7_interface.models import SiteHl7Config
    from tests.hl7_support import ack_of

    SiteHl7Config.objects.create(
        site=pacs_site, receiving_application="RIS", receiving_facility="ALFA-RIS"
    )
    services.sites.clear()
    fnr = factories.synthetic_fnr(dt.date(1987, 7, 7))
    study_uid = new_uid()
    send(port, [instance(study_uid=study_uid, accession="", patient_id=fnr)])
    made = Study.objects.get()
    raw = orm_o01(
        OrderSpec(accession="J901", fnr=fnr, study_uid=study_uid),
        facility=pacs_site.hl7_sending_facility,
    )

    results = services.hl7_receive_batch([(raw, "127.0.0.1:1")])
    services.sites.clear()

    assert [ack_of(r.ack).code for r in results] == ["AA"]
    assert list(Study.objects.values_list("id", "accession_number")) == [(made.id, "J901")]
    assert StudyImages.objects.get().order_arrived_at is not None
