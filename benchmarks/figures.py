"""The figures `make bench` keeps: their targets, the committed baseline, and the comparison.

Pure (no Django, no database): `benchmarks/run.py` measures, this module compares and prints.
The baseline (`benchmarks/results/baseline.json`) is committed; `latest.json` is not.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Better(StrEnum):
    HIGHER = "higher"
    LOWER = "lower"


@dataclass(frozen=True)
class Target:
    value: float
    better: Better
    why: str = ""

    def met_by(self, figure: float) -> bool:
        if self.better is Better.HIGHER:
            return figure >= self.value
        return figure <= self.value

    def __str__(self) -> str:
        return f"{'>=' if self.better is Better.HIGHER else '<='} {self.value:g}"


# Every target in one place: the figure's name in latest.json -> what it must reach.
TARGETS: dict[str, Target] = {
    "http_next_over_me_ratio": Target(
        0.5, Better.HIGHER, "issue 13: read next over HTTP at least half a bare authenticated call"
    ),
    "claim_ratio": Target(
        0.5, Better.HIGHER, "issue 3: read next's statement at least half a bare claim statement"
    ),
    "oru_delivered_per_s": Target(500, Better.HIGHER, "issue 4: results delivered to the RIS"),
    "hl7_orders_per_s": Target(
        1000, Better.HIGHER, "issue 4 (blocked: about 2.5 ms of CPU per order on 2 cores)"
    ),
    "indicators_page_p95_ms": Target(
        500, Better.LOWER, "issue 17: the indicators page, one month of 1,000,000 studies"
    ),
    "planner_month_s": Target(
        120, Better.LOWER, "issue 17: a month at regional volume (7,000 a day, 150 readers)"
    ),
    "http_next_errors": Target(0, Better.LOWER, "no failed read-next request"),
    "http_me_errors": Target(0, Better.LOWER, "no failed bare request"),
    "claim_errors": Target(0, Better.LOWER, "no failed claim under concurrency"),
    "live_p95_ms": Target(250, Better.LOWER, "issue 16: commit to WebSocket client, 200 clients"),
    **{
        f"live_{kind}_{what}": Target(0, Better.LOWER, f"issue 16: {kind} layer, {text}")
        for kind in ("core", "pubsub")
        for what, text in (
            ("missing", "every client hears every change"),
            ("burst_errors", "500 clients connect at once without an error"),
            ("burst_not_heard", "each of the 500 hears the next change"),
        )
    },
    **{
        f"{section}_section_failed": Target(0, Better.LOWER, "the section ran to its end")
        for section in (
            "dicom",
            "hl7",
            "http",
            "indicators",
            "live",
            "planner",
            "reports",
            "routing",
        )
    },
}


@dataclass(frozen=True)
class Row:
    name: str
    latest: float | None
    baseline: float | None
    target: Target | None

    @property
    def over_baseline(self) -> float | None:
        if self.latest is None or self.baseline is None or self.baseline == 0:
            return None
        return self.latest / self.baseline

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        if self.latest is None:
            return "not run"
        return "met" if self.target.met_by(self.latest) else "MISSED"


def compare(
    latest: dict[str, float], baseline: dict[str, float], targets: dict[str, Target]
) -> list[Row]:
    """One row per figure of this run, then any figure of the baseline or a target this run
    did not produce (a section not run, or a figure that went away)."""
    names = list(latest) + sorted((set(baseline) | set(targets)) - set(latest))
    return [Row(n, latest.get(n), baseline.get(n), targets.get(n)) for n in names]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_rows(rows: list[Row]) -> list[str]:
    """The comparison as aligned text lines: figure, latest, baseline, latest/baseline, target,
    met or MISSED."""
    width = max([len(r.name) for r in rows] + [len("figure")])
    header = (
        f"{'figure':<{width}}  {'latest':>12}  {'baseline':>12}  {'/baseline':>9}  "
        f"{'target':>10}  verdict"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        ratio = "-" if row.over_baseline is None else f"{row.over_baseline:.2f}x"
        target = "" if row.target is None else str(row.target)
        lines.append(
            f"{row.name:<{width}}  {_number(row.latest):>12}  {_number(row.baseline):>12}  "
            f"{ratio:>9}  {target:>10}  {row.verdict}".rstrip()
        )
    missed = [r.name for r in rows if r.verdict == "MISSED"]
    lines.append("")
    lines.append(f"targets missed: {', '.join(missed)}" if missed else "targets: all met")
    return lines


def load_baseline(path: Path) -> tuple[dict[str, float], dict[str, object]]:
    """The baseline's figures and its machine description; empty when there is none yet."""
    if not path.exists():
        return {}, {}
    data = json.loads(path.read_text())
    return dict(data.get("figures", {})), dict(data.get("machine", {}))


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except OSError:
        return ""
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""


def machine_description(*, database_version: str, note: str) -> dict[str, object]:
    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gb = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "date": dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu_model": cpu_model or platform.processor(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "database": database_version,
        "git_commit": _first_line(["git", "rev-parse", "--short", "HEAD"]),
        "note": note,
    }


def write_baseline(
    path: Path, *, figures: dict[str, float], machine: dict[str, object], settings: dict[str, str]
) -> None:
    data = {"machine": machine, "settings": settings, "figures": figures}
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
