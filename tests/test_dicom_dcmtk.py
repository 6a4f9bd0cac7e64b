"""A client the project did not write: Debian's dcmtk (echoscu, storescu) against the receiver.

Skipped only where dcmtk is not installed and REQUIRE_DCMTK is unset; CI installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from dicom.models import DicomInstance, RejectedAssociation, StudyImages
from tests.dicom_support import OUR_AE, SITE_AE, instance, new_uid, running_receiver
from worklists.models import Study, StudyStatus

pytestmark = pytest.mark.django_db(transaction=True)

STORESCU = shutil.which("storescu")
ECHOSCU = shutil.which("echoscu")


@pytest.fixture(autouse=True)
def _dcmtk_installed():
    if STORESCU is None or ECHOSCU is None:
        if os.environ.get("REQUIRE_DCMTK"):
            pytest.fail("REQUIRE_DCMTK is set but storescu/echoscu are not on PATH")
        pytest.skip("dcmtk (storescu, echoscu) is not installed")


@pytest.fixture
def port(site_a):
    site_a.dicom_ae_title = SITE_AE
    site_a.save(update_fields=["dicom_ae_title"])
    with running_receiver() as port:
        yield port


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603


def test_echoscu_gets_an_answer(port):
    result = run(ECHOSCU, "-aet", SITE_AE, "-aec", OUR_AE, "127.0.0.1", str(port))

    assert result.returncode == 0, result.stderr


def test_echoscu_from_an_unknown_ae_is_rejected_with_the_reason_logged(port):
    result = run(ECHOSCU, "-aet", "NOBODY", "-aec", OUR_AE, "127.0.0.1", str(port))

    assert result.returncode != 0
    assert "Calling AE Title Not Recognized" in result.stderr + result.stdout
    assert RejectedAssociation.objects.get().calling_ae_title == "NOBODY"


def test_storescu_sends_a_study_that_arrives_without_an_order(port, tmp_path):
    study_uid, series_uid = new_uid(), new_uid()
    paths = []
    for index, name in enumerate(["CT_small.dcm", "CT_small.dcm", "JPEG2000.dcm"]):
        ds = instance(
            name,
            study_uid=study_uid,
            series_uid=series_uid if name == "CT_small.dcm" else None,
            accession="DCMTK1",
            patient_id="DCM-42",
        )
        path = tmp_path / f"{index}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))

    # -xw: propose JPEG 2000 besides the uncompressed syntaxes, so it is sent as stored.
    result = run(STORESCU, "-xw", "-aet", SITE_AE, "-aec", OUR_AE, "127.0.0.1", str(port), *paths)

    assert result.returncode == 0, result.stderr
    study = Study.objects.get()
    assert (study.accession_number, study.status) == ("DCMTK1", StudyStatus.ORDERED)
    images = StudyImages.objects.get(study=study)
    assert (images.series_count, images.instance_count) == (2, 3)
    assert images.images_without_order
    assert set(DicomInstance.objects.values_list("transfer_syntax_uid", flat=True)) == {
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.4.91",
    }


def test_storescu_gets_a_failure_for_an_instance_without_study_instance_uid(port, tmp_path):
    bad = instance(study_uid=new_uid(), accession="DCMTK2")
    del bad.StudyInstanceUID
    bad_path = tmp_path / "bad.dcm"
    bad.save_as(bad_path, enforce_file_format=True)
    good_path = tmp_path / "good.dcm"
    instance(study_uid=new_uid(), accession="DCMTK3").save_as(good_path, enforce_file_format=True)

    files = [str(bad_path), str(good_path)]
    result = run(
        STORESCU, "-v", "-nh", "-aet", SITE_AE, "-aec", OUR_AE, "127.0.0.1", str(port), *files
    )

    output = result.stderr + result.stdout
    assert "Received Store Response (Error: DataSetDoesNotMatchSOPClass)" in output
    assert "Received Store Response (Success)" in output  # the next file went through
    assert list(Study.objects.values_list("accession_number", flat=True)) == ["DCMTK3"]
