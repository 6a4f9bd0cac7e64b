"""DICOM section: instances received per second (metadata only) over 2 concurrent associations,
next to a bare pynetdicom receiver that discards what it gets, and the ratio.

The senders are separate processes (a PACS is another machine; in this process they would
compete for the GIL with the receiver). Both receivers set TCP_NODELAY on their sockets, and so
do the senders. Module-level imports stay free of Django: the sender processes import this
module to find their function.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

ASSOCIATIONS = 2
STUDIES_PER_ASSOCIATION = int(os.environ.get("BENCH_DICOM_STUDIES", "4"))
INSTANCES_PER_STUDY = int(os.environ.get("BENCH_DICOM_INSTANCES", "100"))
AE_SITE = "BENCHPACS"
AE_OURS = "TELERAD"
ROOT = "1.2.826.0.1.3680043.8.498."


def _nodelay(event: Any) -> None:
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _send(port: int, paths: list[str], barrier: Any, results: Any) -> None:
    """One association sending ``paths`` (run in its own process)."""
    from pydicom.uid import ExplicitVRLittleEndian
    from pynetdicom import AE, evt

    ae = AE(ae_title=AE_SITE)
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2", [ExplicitVRLittleEndian])  # CT
    assoc = ae.associate(
        "127.0.0.1", port, ae_title=AE_OURS, evt_handlers=[(evt.EVT_CONN_OPEN, _nodelay)]
    )
    if not assoc.is_established:
        results.put(("error", "association not established"))
        return
    barrier.wait(timeout=60)
    start = time.monotonic()
    failures = 0
    for path in paths:
        # A path is sent as stored, without decoding and re-encoding it here.
        status = assoc.send_c_store(path)
        failures += int(getattr(status, "Status", 1) != 0)
    end = time.monotonic()
    assoc.release()
    results.put((start, end, len(paths), failures))


def _write_instances(directory: Path, rng: random.Random) -> list[list[str]]:
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    template = dcmread(str(get_testdata_file("CT_small.dcm", download=False)))
    per_association: list[list[str]] = []
    for a in range(ASSOCIATIONS):
        paths = []
        for s in range(STUDIES_PER_ASSOCIATION):
            study_uid, series_uid = generate_uid(prefix=ROOT), generate_uid(prefix=ROOT)
            accession = f"BD{rng.randrange(10**9)}"
            for i in range(INSTANCES_PER_STUDY):
                ds = template.copy()
                ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
                ds.SOPInstanceUID = generate_uid(prefix=ROOT)
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                ds.AccessionNumber = accession
                ds.PatientID = f"BENCH-{a}-{s}"
                path = directory / f"{a}-{s}-{i}.dcm"
                ds.save_as(path, enforce_file_format=True)
                paths.append(str(path))
        per_association.append(paths)
    return per_association


def _load(port: int, per_association: list[list[str]]) -> float:
    """Instances per second over the concurrent associations, first start to last end."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(per_association))
    results = context.Queue()
    senders = [
        context.Process(target=_send, args=(port, paths, barrier, results))
        for paths in per_association
    ]
    for sender in senders:
        sender.start()
    outcomes = [results.get(timeout=600) for _ in senders]
    for sender in senders:
        sender.join(60)
    if any(o[0] == "error" for o in outcomes):
        raise RuntimeError(f"a sender failed: {outcomes}")
    if any(o[3] for o in outcomes):
        raise RuntimeError(f"instances were refused: {outcomes}")
    total = sum(o[2] for o in outcomes)
    return total / (max(o[1] for o in outcomes) - min(o[0] for o in outcomes))


def _bare_receiver() -> tuple[Any, int]:
    from pynetdicom import AE, evt

    from dicom.scp import TRANSFER_SYNTAXES

    ae = AE(ae_title=AE_OURS)
    ae.add_supported_context("1.2.840.10008.5.1.4.1.1.2", TRANSFER_SYNTAXES)
    handlers: list[Any] = [(evt.EVT_CONN_OPEN, _nodelay), (evt.EVT_C_STORE, lambda event: 0x0000)]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    if server is None:
        raise RuntimeError("pynetdicom returned no server")
    return server, server.server_address[1]


def run(rng: random.Random) -> dict[str, float]:
    from dicom.scp import Receiver
    from worklists.models import Site

    Site.objects.create(code="benchdcm", name="DICOM benchmark", dicom_ae_title=AE_SITE)
    with tempfile.TemporaryDirectory() as tmp:
        ours = Receiver(ae_title=AE_OURS, port=0, host="127.0.0.1", storage_dir="")
        port = ours.start()
        try:
            warm = Path(tmp) / "warm"
            warm.mkdir()
            _load(port, [paths[:10] for paths in _write_instances(warm, rng)])
            measured = Path(tmp) / "measured"
            measured.mkdir()
            ours_per_s = _load(port, _write_instances(measured, rng))
        finally:
            ours.stop()
        server, bare_port = _bare_receiver()
        try:
            _load(bare_port, [paths[:10] for paths in _write_instances(warm, rng)])
            bare_per_s = _load(bare_port, _write_instances(measured, rng))
        finally:
            server.shutdown()
    return {
        "dicom_instances_per_s": ours_per_s,
        "dicom_bare_scp_per_s": bare_per_s,
        "dicom_ratio": ours_per_s / bare_per_s,
    }
