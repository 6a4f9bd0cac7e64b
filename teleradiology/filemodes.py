"""Files with patient data are the owner's alone: the SQLite database (and its WAL and shared
memory files, which SQLite creates with the database's mode) is made 0600 when first opened."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_DIR = 0o700


def restrict_sqlite_files(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    for path in (Path(name), Path(name + "-wal"), Path(name + "-shm")):
        try:
            if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
                path.chmod(OWNER_ONLY_FILE)
        except FileNotFoundError:
            continue


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) for the owner only; an existing directory is left as it is
    (it may be shared on purpose)."""
    if not path.exists():
        path.mkdir(parents=True, mode=OWNER_ONLY_DIR, exist_ok=True)
        path.chmod(OWNER_ONLY_DIR)  # mkdir's mode is masked by the umask
