"""manage.py plan_capacity on seeded history: both scenarios side by side, the back-test error,
and nothing written."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from worklists.models import Assignment, RoutingDecision, Shift, Study, StudyEvent

HISTORY_DAYS = 5


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def history(db) -> dt.date:
    call_command(
        "seed_demo", "--studies", "0", "--history-days", str(HISTORY_DAYS), stdout=StringIO()
    )
    history_studies = Study.objects.filter(accession_number__contains="-H", ready_at__isnull=False)
    first = history_studies.order_by("ready_at").first()
    assert first is not None
    assert first.ready_at is not None
    return first.ready_at.date() + dt.timedelta(days=1)


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count() for model in (Study, StudyEvent, Assignment, RoutingDecision, Shift)
    )


def plan(*args: str) -> str:
    out = StringIO()
    call_command("plan_capacity", *args, stdout=out)
    return out.getvalue()


def test_it_prints_both_scenarios_side_by_side_and_the_back_test_error(history):
    before = counts()
    out = plan("--start", history.isoformat(), "--days", "2", "--add-worklist", "neuro")
    assert "What happened" in out
    assert "A: the period's own roster" in out
    assert "B: +1 neuro reader 18-24 on weekdays" in out
    for priority in ("STAT", "URGENT", "CANCER_PATHWAY", "ROUTINE", "ALL"):
        assert f"\n{priority} " in out
    assert "Back-test (scenario A against what happened" in out
    assert "median turnaround error +" in out or "median turnaround error -" in out
    assert "Queue depth per hour" in out
    assert "Work units signed per reader" in out
    assert counts() == before


def test_an_edited_roster_file_is_scenario_b(history, tmp_path):
    day = history.isoformat()
    roster = tmp_path / "one-reader.csv"
    roster.write_text(
        "radiologist,date,starts,ends,role,worklists,sites,target_work_units,external_id\n"
        f"rad01,{day},08:00,16:00,primary,,,30,\n"
    )
    out = plan("--start", day, "--days", "1", "--roster", str(roster))
    assert "B: roster one-reader.csv" in out
    b_line = next(line for line in out.splitlines() if line.startswith("  B: roster"))
    assert "1 readers" in b_line


def test_a_bad_roster_file_is_refused_with_its_errors(history, tmp_path):
    roster = tmp_path / "bad.csv"
    roster.write_text(
        "radiologist,date,starts,ends\nnobody,2026-01-01,08:00,16:00\n", encoding="utf-8"
    )
    with pytest.raises(CommandError, match="nobody"):
        plan("--start", history.isoformat(), "--roster", str(roster))


def test_a_period_without_arrivals_replays_to_empty_figures(history):
    later = timezone.localdate() + dt.timedelta(days=30)
    out = plan("--start", later.isoformat(), "--days", "1")
    assert "0 studies became ready" in out
