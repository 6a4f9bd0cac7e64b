"""Completeness after a quiet period, derived from stored times: it survives restarts of the
receiver and of the workers, and runs as a periodic task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from dicom.models import StudyImages
from dicom.scp import SUCCESS
from dicom.services.completion import study_images_complete, study_images_complete_quiet
from dicom.tasks import complete_quiet_studies
from tests import factories
from tests.dicom_support import (
    SITE_AE,
    instance,
    let_quiet_period_pass,
    new_uid,
    running_receiver,
    send,
)
from worklists.models import StudyStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pacs_site(site_a, general_worklist):
    site_a.dicom_ae_title = SITE_AE
    site_a.save(update_fields=["dicom_ae_title"])
    return site_a


@pytest.fixture
def ordered_study(pacs_site):
    return factories.StudyFactory(site=pacs_site, accession_number="Q1", study_instance_uid="")


def test_the_quiet_period_is_90_seconds_by_default():
    assert settings.DICOM_QUIET_SECONDS == 90


def test_a_study_is_complete_only_once_the_quiet_period_has_passed(ordered_study):
    with running_receiver() as port:
        send(port, [instance(study_uid=new_uid(), accession="Q1")])
    last = StudyImages.objects.get().last_instance_at

    assert study_images_complete_quiet(now=last + dt.timedelta(seconds=89)) == []
    assert not StudyImages.objects.get().complete
    assert study_images_complete_quiet(now=last + dt.timedelta(seconds=90)) == [ordered_study.id]

    ordered_study.refresh_from_db()
    assert ordered_study.status == StudyStatus.READY
    assert StudyImages.objects.get().completed_at == last + dt.timedelta(seconds=90)


@override_settings(DICOM_QUIET_SECONDS=5)
def test_the_quiet_period_is_configurable(ordered_study):
    with running_receiver() as port:
        send(port, [instance(study_uid=new_uid(), accession="Q1")])
    last = StudyImages.objects.get().last_instance_at

    assert study_images_complete_quiet(now=last + dt.timedelta(seconds=5)) == [ordered_study.id]


def test_completion_survives_a_restart_of_receiver_and_workers(ordered_study):
    study_uid = new_uid()
    with running_receiver() as port:
        assert send(port, [instance(study_uid=study_uid, accession="Q1")]) == [SUCCESS]
    # The receiver is gone (as after a crash or a deploy); a new one takes the rest.
    with running_receiver() as port:
        assert send(port, [instance(study_uid=study_uid, accession="Q1")]) == [SUCCESS]

    images = StudyImages.objects.get()
    assert images.instance_count == 2
    let_quiet_period_pass(ordered_study.id)

    # A worker that has never seen these instances finds the study from the database alone.
    complete_quiet_studies.delay()

    ordered_study.refresh_from_db()
    assert ordered_study.status == StudyStatus.READY


def test_a_new_instance_restarts_the_quiet_period_of_a_study_not_yet_opened(pacs_site):
    study_uid = new_uid()
    with running_receiver() as port:
        send(port, [instance(study_uid=study_uid, accession="W1", patient_id="L1")])
        images = StudyImages.objects.get()
        let_quiet_period_pass(images.study_id)
        assert study_images_complete_quiet() == [images.study_id]  # complete, waiting for order

        send(port, [instance(study_uid=study_uid, accession="W1", patient_id="L1")])

    images.refresh_from_db()
    assert not images.complete
    assert images.completed_at is None
    assert images.instance_count == 2


def test_completing_twice_does_nothing_the_second_time(ordered_study):
    with running_receiver() as port:
        send(port, [instance(study_uid=new_uid(), accession="Q1")])
    let_quiet_period_pass(ordered_study.id)
    now = timezone.now()

    assert study_images_complete(study_id=ordered_study.id, now=now)
    assert not study_images_complete(study_id=ordered_study.id, now=now)
    assert study_images_complete_quiet(now=now) == []
    assert ordered_study.events.filter(to_status=StudyStatus.READY).count() == 1


def test_the_sweep_is_a_periodic_task_and_the_receiver_an_embedded_service():
    entry = settings.CELERY_BEAT_SCHEDULE["dicom-complete-quiet-studies"]
    assert entry["task"] == complete_quiet_studies.name == "dicom.tasks.complete_quiet_studies"
    assert entry["schedule"] <= settings.DICOM_QUIET_SECONDS
    assert "dicom.scp.run_embedded" in settings.EMBEDDED_SERVICES
