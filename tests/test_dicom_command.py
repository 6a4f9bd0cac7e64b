"""`manage.py dicom_scp` as its own process: listens, answers, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_dicom_scp_listens_on_the_given_port_and_stops_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "TELERAD_VAR_DIR": str(tmp_path),
        "DICOM_AE_TITLE": "CMDTEST",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "dicom_scp", "--port", "0", "--ae-title", "CMDTEST"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = ""
        for line in process.stdout:
            if "listening on port" in line:
                break
        match = re.search(r"DICOM receiver CMDTEST listening on port (\d+)", line)
        assert match, line
        assert int(match.group(1)) > 0
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "DICOM receiver stopped" in rest
