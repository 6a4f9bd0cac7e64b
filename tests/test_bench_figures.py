"""`make bench` keeps its figures: each is printed beside its baseline and target (pure logic;
the benchmark itself never runs in the test suite)."""

from __future__ import annotations

import json

from benchmarks.figures import (
    TARGETS,
    Better,
    Target,
    compare,
    format_rows,
    load_baseline,
    machine_description,
    write_baseline,
)

TARGETS_FOR_TEST = {
    "http_next_over_me_ratio": Target(0.5, Better.HIGHER),
    "http_next_p99_ms": Target(200, Better.LOWER),
    "dicom_files_per_s": Target(100, Better.HIGHER),
}


def line_of(lines: list[str], figure: str) -> list[str]:
    (line,) = [line for line in lines if line.split()[:1] == [figure]]
    return line.split()


def test_a_figure_is_printed_with_its_baseline_its_ratio_to_it_and_its_target():
    rows = compare(
        {"http_next_over_me_ratio": 0.6},
        {"http_next_over_me_ratio": 0.4},
        TARGETS_FOR_TEST,
    )

    assert line_of(format_rows(rows), "http_next_over_me_ratio") == [
        "http_next_over_me_ratio",
        "0.600",
        "0.400",
        "1.50x",
        ">=",
        "0.5",
        "met",
    ]


def test_a_higher_is_better_target_below_is_missed_and_named_at_the_end():
    lines = format_rows(compare({"http_next_over_me_ratio": 0.3}, {}, TARGETS_FOR_TEST))

    assert line_of(lines, "http_next_over_me_ratio")[-1] == "MISSED"
    assert lines[-1] == "targets missed: http_next_over_me_ratio"


def test_a_lower_is_better_target_is_met_at_or_below_and_missed_above():
    met = compare({"http_next_p99_ms": 200.0}, {}, TARGETS_FOR_TEST)
    missed = compare({"http_next_p99_ms": 200.5}, {}, TARGETS_FOR_TEST)

    assert met[0].verdict == "met"
    assert missed[0].verdict == "MISSED"


def test_a_figure_without_baseline_or_target_shows_dashes_and_no_verdict():
    lines = format_rows(compare({"orders_applied_per_s": 812.25}, {}, {}))

    assert line_of(lines, "orders_applied_per_s") == ["orders_applied_per_s", "812.250", "-", "-"]
    assert lines[-1] == "targets: all met"


def test_a_baseline_figure_or_target_this_run_did_not_produce_is_listed_after_the_run():
    rows = compare({"lists_p50_ms": 3.0}, {"old_figure": 1.0}, TARGETS_FOR_TEST)

    assert [r.name for r in rows] == [
        "lists_p50_ms",
        "dicom_files_per_s",
        "http_next_over_me_ratio",
        "http_next_p99_ms",
        "old_figure",
    ]
    by_name = {r.name: r for r in rows}
    assert by_name["old_figure"].latest is None
    assert by_name["dicom_files_per_s"].verdict == "not run"
    assert line_of(format_rows(rows), "old_figure") == ["old_figure", "-", "1.000", "-"]


def test_a_zero_baseline_gives_no_ratio_rather_than_a_division_error():
    rows = compare({"http_next_errors": 2.0}, {"http_next_errors": 0.0}, TARGETS)

    assert rows[0].over_baseline is None
    assert rows[0].verdict == "MISSED"


def test_the_read_next_over_http_target_is_the_issues_half_of_the_bare_call():
    target = TARGETS["http_next_over_me_ratio"]

    assert (target.value, target.better) == (0.5, Better.HIGHER)


def test_a_written_baseline_loads_back_with_its_machine(tmp_path):
    path = tmp_path / "baseline.json"
    machine = machine_description(database_version="PostgreSQL 17.2", note="shared machine")

    write_baseline(path, figures={"a_per_s": 1.5}, machine=machine, settings={"BENCH_STUDIES": "5"})
    figures, loaded = load_baseline(path)

    assert figures == {"a_per_s": 1.5}
    assert loaded["database"] == "PostgreSQL 17.2"
    assert loaded["note"] == "shared machine"
    assert {"date", "cores", "cpu_model", "memory_gb"} <= set(loaded)
    assert json.loads(path.read_text())["settings"] == {"BENCH_STUDIES": "5"}


def test_no_baseline_yet_compares_against_nothing(tmp_path):
    assert load_baseline(tmp_path / "missing.json") == ({}, {})
