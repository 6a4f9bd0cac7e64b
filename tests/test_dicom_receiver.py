"""The receiver over real TCP: echo, who may call, bad input, compressed syntaxes, storage."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.test import override_settings
from pydicom import dcmread
from pydicom.uid import JPEG2000, JPEGBaseline8Bit

from dicom.models import DicomInstance, DicomSiteSettings, FailedInstance, RejectedAssociation
from dicom.scp import CANNOT_UNDERSTAND, DATASET_DOES_NOT_MATCH, SUCCESS, run_embedded
from tests.dicom_support import (
    SITE_AE,
    AssociationRejected,
    echo,
    instance,
    new_uid,
    running_receiver,
    send,
)
from worklists.models import Study

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pacs_site(site_a):
    site_a.dicom_ae_title = SITE_AE
    site_a.save(update_fields=["dicom_ae_title"])
    return site_a


@pytest.fixture
def port(pacs_site):
    with running_receiver() as port:
        yield port


def test_it_answers_echo_from_a_known_site(port):
    assert echo(port) == SUCCESS
    assert not RejectedAssociation.objects.exists()


def test_an_unknown_calling_ae_is_rejected_and_logged_for_the_admin(port):
    with pytest.raises(AssociationRejected, match="rejected=True"):
        echo(port, calling="STRANGER")

    rejected = RejectedAssociation.objects.get()
    assert rejected.calling_ae_title == "STRANGER"
    assert rejected.peer_address == "127.0.0.1"
    assert "belongs to no site" in rejected.reason
    assert not Study.objects.exists()


def test_a_wrong_called_ae_title_is_rejected_with_its_reason(port):
    with pytest.raises(AssociationRejected):
        send(port, [instance(study_uid=new_uid())], called="SOMEONE")

    assert "is not this receiver" in RejectedAssociation.objects.get().reason
    assert not Study.objects.exists()


def test_a_site_limited_to_another_address_is_rejected(pacs_site, port):
    DicomSiteSettings.objects.create(site=pacs_site, allowed_source_addresses="10.1.2.3")

    with pytest.raises(AssociationRejected):
        echo(port)

    assert "only from 10.1.2.3" in RejectedAssociation.objects.get().reason


def test_a_site_limited_to_its_own_address_is_accepted(pacs_site, port):
    DicomSiteSettings.objects.create(site=pacs_site, allowed_source_addresses="127.0.0.1")

    assert echo(port) == SUCCESS


def test_an_inactive_site_is_rejected(pacs_site, port):
    pacs_site.is_active = False
    pacs_site.save(update_fields=["is_active"])

    with pytest.raises(AssociationRejected):
        echo(port)

    assert "inactive site" in RejectedAssociation.objects.get().reason


def test_an_invalid_dataset_gets_a_failure_status_and_the_next_instance_is_accepted(port):
    garbage = instance(study_uid=new_uid(), accession="BAD1")
    good = instance(study_uid=new_uid(), accession="GOOD1")
    # A "UID" that would climb out of the storage directory if it were used as a path.
    garbage.StudyInstanceUID = "not a uid/../../etc"

    statuses = send(port, [garbage, good])

    assert statuses == [DATASET_DOES_NOT_MATCH, SUCCESS]
    failure = FailedInstance.objects.get()
    assert failure.status == DATASET_DOES_NOT_MATCH
    assert "StudyInstanceUID" in failure.error
    assert failure.sop_instance_uid == garbage.SOPInstanceUID
    assert bytes(failure.raw)  # kept as received, for inspection
    assert Study.objects.get().accession_number == "GOOD1"


def test_an_instance_without_study_instance_uid_is_refused_and_kept(port):
    missing = instance(study_uid=new_uid(), accession="NOUID")
    del missing.StudyInstanceUID
    good = instance(study_uid=new_uid(), accession="AFTER")

    statuses = send(port, [missing, good])

    assert statuses == [DATASET_DOES_NOT_MATCH, SUCCESS]
    assert FailedInstance.objects.get().error == "StudyInstanceUID is missing"
    assert list(Study.objects.values_list("accession_number", flat=True)) == ["AFTER"]


def test_a_file_that_is_not_dicom_gets_cannot_understand_and_is_kept(port, monkeypatch):
    # pynetdicom encodes what it sends; to put a non-DICOM file on the wire the SCU's encoder
    # is replaced for that one dataset (the receiver under test is untouched).
    import pynetdicom.association as association_module

    real_encode = association_module.encode
    bad = instance(study_uid=new_uid(), accession="JUNK")
    good = instance(study_uid=new_uid(), accession="FINE")
    text_file = b"Dette er ikke DICOM, bare en tekstfil.\n" * 4

    def encode(ds, *args, **kwargs):
        if ds.SOPInstanceUID == bad.SOPInstanceUID:
            return text_file
        return real_encode(ds, *args, **kwargs)

    monkeypatch.setattr(association_module, "encode", encode)

    statuses = send(port, [bad, good])

    assert statuses == [CANNOT_UNDERSTAND, SUCCESS]
    failure = FailedInstance.objects.get()
    assert failure.status == CANNOT_UNDERSTAND
    assert "not a DICOM dataset" in failure.error
    assert failure.sop_instance_uid == bad.SOPInstanceUID  # from the C-STORE request
    assert text_file in bytes(failure.raw)
    assert Study.objects.get().accession_number == "FINE"


@pytest.mark.parametrize(
    ("name", "syntax"),
    [("JPEG2000.dcm", JPEG2000), ("SC_rgb_jpeg_dcmtk.dcm", JPEGBaseline8Bit)],
)
def test_compressed_instances_are_accepted_as_sent(port, name, syntax):
    ds = instance(name, study_uid=new_uid(), accession=f"C-{name}")
    assert ds.file_meta.TransferSyntaxUID == syntax

    assert send(port, [ds]) == [SUCCESS]

    stored = DicomInstance.objects.get()
    assert stored.transfer_syntax_uid == syntax
    assert stored.sop_class_uid == ds.SOPClassUID


def test_metadata_only_by_default_writes_no_files(port, tmp_path):
    assert send(port, [instance(study_uid=new_uid(), accession="M1")]) == [SUCCESS]

    assert DicomInstance.objects.get().storage_path == ""
    assert list(tmp_path.iterdir()) == []


def test_with_a_storage_dir_each_instance_is_written_under_its_uids(pacs_site, tmp_path):
    study_uid = new_uid()
    ds = instance(study_uid=study_uid, accession="S1")

    with running_receiver(storage_dir=str(tmp_path)) as port:
        assert send(port, [ds]) == [SUCCESS]

    path = tmp_path / study_uid / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
    assert path.is_file()
    assert DicomInstance.objects.get().storage_path == str(path.relative_to(tmp_path))
    written = dcmread(path)
    assert written.SOPInstanceUID == ds.SOPInstanceUID
    assert written.PixelData == ds.PixelData
    # Atomic: only the renamed file remains, no temporary.
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_storage_failure_answers_out_of_resources_and_records_nothing(pacs_site, tmp_path):
    blocked = Path(tmp_path) / "file-not-dir"
    blocked.write_text("in the way")

    with running_receiver(storage_dir=str(blocked)) as port:
        statuses = send(port, [instance(study_uid=new_uid(), accession="DISK")])

    assert statuses == [0xA700]
    assert not DicomInstance.objects.exists()
    assert "not recorded" in FailedInstance.objects.get().error


def test_the_embedded_receiver_runs_until_stopped(pacs_site):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    stop = threading.Event()
    with override_settings(DICOM_PORT=free_port, DICOM_BIND_ADDRESS="127.0.0.1"):
        thread = threading.Thread(target=run_embedded, args=(stop,), daemon=True)
        thread.start()
        try:
            for _ in range(50):
                try:
                    assert echo(free_port) == SUCCESS
                    break
                except (AssociationRejected, ConnectionError):
                    stop.wait(0.1)
            else:
                pytest.fail("the embedded receiver never answered")
        finally:
            stop.set()
            thread.join(5)
    assert not thread.is_alive()
