"""Assembly under real concurrency: associations in parallel against a real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone

from dicom.models import DicomInstance, StudyImages
from dicom.scp import SUCCESS
from tests import factories
from tests.db_support import require_postgresql
from tests.dicom_support import SITE_AE, instance, new_uid, running_receiver, send
from worklists.actors import Actor
from worklists.models import Patient, Study, StudyEvent, StudyStatus
from worklists.services.orders import (
    IdentifierInput,
    OrderAction,
    OrderInput,
    PatientInput,
    StudyInput,
    order_apply,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ASSOCIATIONS = 4
PER_ASSOCIATION = 5


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    require_postgresql()


@pytest.fixture
def port(site_a):
    site_a.dicom_ae_title = SITE_AE
    site_a.save(update_fields=["dicom_ae_title"])
    with running_receiver() as port:
        yield port


def _at_once(targets) -> list[BaseException]:
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def run(target) -> None:
        try:
            barrier.wait(timeout=10)
            target()
        except BaseException as exc:  # collected and asserted by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_parallel_associations_sending_one_new_study_make_one_study_and_one_patient(port):
    fnr = factories.synthetic_fnr()
    study_uid = new_uid()
    series = [new_uid() for _ in range(ASSOCIATIONS)]
    statuses: list[int] = []

    def association(index: int):
        def go() -> None:
            datasets = [
                instance(
                    study_uid=study_uid, series_uid=series[index], accession="PAR1", patient_id=fnr
                )
                for _ in range(PER_ASSOCIATION)
            ]
            statuses.extend(send(port, datasets))

        return go

    errors = _at_once([association(i) for i in range(ASSOCIATIONS)])

    assert errors == []
    assert statuses == [SUCCESS] * ASSOCIATIONS * PER_ASSOCIATION
    study = Study.objects.get()
    assert Patient.objects.count() == 1
    images = StudyImages.objects.get(study=study)
    assert images.instance_count == ASSOCIATIONS * PER_ASSOCIATION == DicomInstance.objects.count()
    assert images.series_count == ASSOCIATIONS
    assert StudyEvent.objects.filter(study=study).count() == 1


def test_an_order_arriving_while_its_images_stream_in_meets_them_in_one_study(port, site_a):
    fnr = factories.synthetic_fnr()
    study_uid = new_uid()
    statuses: list[int] = []

    def images() -> None:
        datasets = [
            instance(study_uid=study_uid, accession="PAR2", patient_id=fnr) for _ in range(10)
        ]
        statuses.extend(send(port, datasets))

    def the_order() -> None:
        order_apply(
            site_id=site_a.id,
            order=OrderInput(
                accession_number="PAR2",
                action=OrderAction.NEW,
                patient=PatientInput(
                    identifiers=(IdentifierInput(kind="FNR", value=fnr),), family_name="Ødegård"
                ),
                study=StudyInput(
                    modality="CT", procedure_text="CT caput", ordered_at=timezone.now()
                ),
            ),
            actor=Actor.for_site(site_a.code),
        )

    errors = _at_once([images, the_order])

    assert errors == []
    assert statuses == [SUCCESS] * 10
    study = Study.objects.get()
    assert study.status == StudyStatus.ORDERED
    assert study.procedure_text == "CT caput"
    assert Patient.objects.count() == 1
    assert StudyImages.objects.get(study=study).instance_count == 10
