"""Instances on disk under DICOM_STORAGE_DIR, written so a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from dicom.metadata import InstanceMeta, is_valid_uid


def instance_relative_path(meta: InstanceMeta) -> Path:
    """<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm"""
    uids = (meta.study_instance_uid, meta.series_instance_uid, meta.sop_instance_uid)
    # Parsing already refused anything but digits and dots; checked again because these
    # become path components.
    if not all(is_valid_uid(uid) for uid in uids):
        raise ValueError("UIDs must be digits and dots to be used as file names")
    return Path(uids[0]) / uids[1] / f"{uids[2]}.dcm"


def instance_write(*, storage_dir: str, meta: InstanceMeta, encoded: bytes) -> str:
    """Write one instance (DICOM file format bytes) atomically; return its relative path.

    A temporary file in the target directory, flushed to disk, then renamed over the target:
    a viewer sees the old file or the new one, never a torn one, and a crash leaves at most a
    stray ``.part`` file.
    """
    relative = instance_relative_path(meta)
    target = Path(storage_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    # The rename is durable once the directory entry is on disk: the sender may delete its
    # copy as soon as we answer success.
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return str(relative)
