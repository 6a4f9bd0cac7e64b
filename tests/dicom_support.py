"""Helpers for the DICOM tests: pydicom's bundled test files, a receiver on an ephemeral port,
and a pynetdicom SCU that sends over real TCP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from django.db.models import F
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt

from dicom.models import StudyImages
from dicom.scp import VERIFICATION_SOP_CLASS, Receiver, set_nodelay

OUR_AE = "TELERAD"
SITE_AE = "ALFAPACS"
ROOT = "1.2.826.0.1.3680043.8.498."


def testdata(name: str) -> Path:
    # Only files bundled with pydicom: nothing is downloaded.
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not bundled with pydicom"
    return Path(str(path))


def instance(
    name: str = "CT_small.dcm",
    *,
    study_uid: str,
    accession: str = "",
    patient_id: str | None = None,
    issuer: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    **attributes: object,
) -> Dataset:
    """A copy of a bundled test file, as a new instance of the given study."""
    ds = dcmread(testdata(name))
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid or generate_uid(prefix=ROOT)
    ds.SOPInstanceUID = sop_uid or generate_uid(prefix=ROOT)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.AccessionNumber = accession
    if patient_id is not None:
        ds.PatientID = patient_id
    if issuer is not None:
        ds.IssuerOfPatientID = issuer
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def new_uid() -> str:
    return generate_uid(prefix=ROOT)


@contextmanager
def running_receiver(*, storage_dir: str = "", ae_title: str = OUR_AE) -> Iterator[int]:
    """A real receiver on 127.0.0.1 and an ephemeral port; yields the port."""
    receiver = Receiver(ae_title=ae_title, port=0, host="127.0.0.1", storage_dir=storage_dir)
    port = receiver.start()
    try:
        yield port
    finally:
        receiver.stop()


class AssociationRejected(Exception):
    pass


def send(
    port: int,
    datasets: Sequence[Dataset],
    *,
    calling: str = SITE_AE,
    called: str = OUR_AE,
) -> list[int]:
    """Send ``datasets`` in one association; the C-STORE statuses in order."""
    sop_classes = list(dict.fromkeys(str(ds.SOPClassUID) for ds in datasets))
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    for ds in datasets:
        syntax = ds.file_meta.TransferSyntaxUID
        if str(ds.SOPClassUID) in sop_classes:
            ae.add_requested_context(ds.SOPClassUID, [syntax])
            sop_classes.remove(str(ds.SOPClassUID))
    assoc = ae.associate(
        "127.0.0.1",
        port,
        ae_title=called,
        evt_handlers=[(evt.EVT_CONN_OPEN, lambda e: set_nodelay(e.assoc.dul.socket.socket))],
    )
    if not assoc.is_established:
        raise AssociationRejected(f"rejected={assoc.is_rejected} aborted={assoc.is_aborted}")
    try:
        statuses = []
        for ds in datasets:
            status = assoc.send_c_store(ds)
            statuses.append(int(status.Status) if "Status" in status else -1)
        return statuses
    finally:
        assoc.release()


def echo(port: int, *, calling: str = SITE_AE, called: str = OUR_AE) -> int:
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    if not assoc.is_established:
        raise AssociationRejected(f"rejected={assoc.is_rejected} aborted={assoc.is_aborted}")
    try:
        return int(assoc.send_c_echo().Status)
    finally:
        assoc.release()


def let_quiet_period_pass(study_id: int, seconds: int = 91) -> None:
    """As if ``seconds`` had passed since the last instance (the sweep reads stored times)."""
    StudyImages.objects.filter(study_id=study_id).update(
        last_instance_at=F("last_instance_at") - dt.timedelta(seconds=seconds),
        first_instance_at=F("first_instance_at") - dt.timedelta(seconds=seconds),
    )


__all__ = [
    "OUR_AE",
    "SITE_AE",
    "AssociationRejected",
    "echo",
    "instance",
    "let_quiet_period_pass",
    "new_uid",
    "running_receiver",
    "send",
    "testdata",
]
