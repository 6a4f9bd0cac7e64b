"""seed_demo --history-days: finished past studies with whole, consistent event histories."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from reports.models import CriticalFinding, ReferralRejection, ReportVersion
from worklists.models import (
    Assignment,
    DeadlineContract,
    RoutingDecision,
    Shift,
    Study,
    StudyEvent,
    StudyStatus,
)

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
DAYS = 7
READ_CHAIN = [
    ("", StudyStatus.ORDERED),
    (StudyStatus.ORDERED, StudyStatus.READY),
    (StudyStatus.READY, StudyStatus.ASSIGNED),
    (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS),
    (StudyStatus.IN_PROGRESS, StudyStatus.FINAL),
]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(days: int = DAYS) -> str:
    out = StringIO()
    call_command("seed_demo", "--studies", "0", "--history-days", str(days), stdout=out)
    return out.getvalue()


@pytest.fixture
def history(db) -> str:
    return seed()


def history_studies():
    return Study.objects.filter(accession_number__contains="-H")


def test_every_final_history_study_went_ordered_ready_assigned_opened_final_in_time_order(
    history,
):
    finals = list(history_studies().filter(status=StudyStatus.FINAL))
    assert len(finals) > 500
    contract = {
        (c.site_id, c.priority): c.turnaround_minutes for c in DeadlineContract.objects.all()
    }
    events: dict[int, list[StudyEvent]] = {}
    for event in StudyEvent.objects.filter(study__in=finals).order_by("at", "id"):
        events.setdefault(event.study_id, []).append(event)
    for study in finals:
        # Transitions only: a low-value flag at intake is an event without a status change.
        chain = [e for e in events[study.id] if e.from_status != e.to_status]
        assert [(e.from_status, e.to_status) for e in chain] == READ_CHAIN
        times = [e.at for e in chain]
        assert times == sorted(times)
        assert chain[0].at == study.ordered_at
        assert chain[1].at == study.ready_at
        assert chain[-1].at == study.status_changed_at
        minutes = contract[(study.site_id, study.priority)]
        assert study.deadline == study.ready_at + dt.timedelta(minutes=minutes)
        assert chain[1].data["deadline"] == study.deadline.isoformat()


def test_the_assignment_and_the_signed_report_match_the_events(history):
    finals = history_studies().filter(status=StudyStatus.FINAL)
    assignments = {a.study_id: a for a in Assignment.objects.filter(study__in=finals)}
    versions = {v.study_id: v for v in ReportVersion.objects.filter(study__in=finals)}
    events = {
        (e.study_id, e.to_status): e
        for e in StudyEvent.objects.filter(study__in=finals).select_related("study")
    }
    for study in finals:
        assignment = assignments[study.id]
        final = events[(study.id, StudyStatus.FINAL)]
        assigned = events[(study.id, StudyStatus.ASSIGNED)]
        assert assignment.assigned_at == assigned.at
        assert assignment.ended_at == final.at
        assert assignment.end_reason == "signed"
        assert assigned.data["radiologist_id"] == assignment.radiologist_id
        assert final.actor_id == assignment.radiologist.user_id
        assert versions[study.id].signed_by_id == assignment.radiologist_id
        assert versions[study.id].signed_at == final.at


def test_readers_open_studies_only_while_on_one_of_their_history_shifts(history):
    shifts: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for shift in Shift.objects.filter(source="demo-history"):
        shifts.setdefault(shift.radiologist_id, []).append((shift.starts_at, shift.ends_at))
    opened = StudyEvent.objects.filter(
        study__in=history_studies(), to_status=StudyStatus.IN_PROGRESS
    )
    holder = dict(
        Assignment.objects.filter(study__in=history_studies()).values_list(
            "study_id", "radiologist_id"
        )
    )
    for event in opened:
        spans = shifts[holder[event.study_id]]
        assert any(start <= event.at < end for start, end in spans)


def test_volumes_follow_the_weekday_and_the_hour(history):
    by_weekday: Counter[int] = Counter()
    by_hour: Counter[int] = Counter()
    for ordered_at in history_studies().values_list("ordered_at", flat=True):
        local = ordered_at.astimezone(OSLO)
        by_weekday[local.weekday()] += 1
        by_hour[local.hour] += 1
    assert min(by_weekday[d] for d in range(5)) > 2 * max(by_weekday[5], by_weekday[6])
    assert by_hour[10] > 4 * by_hour[3]
    assert len(set(history_studies().values_list("site_id", flat=True))) == 7


def test_low_value_referrals_are_flagged_at_intake_as_the_order_service_flags_them(history):
    flagged = history_studies().filter(low_value_rule__isnull=False)
    assert flagged.exists()
    for study in flagged:
        event = study.events.get(reason="low-value referral flagged")
        assert event.at == study.ordered_at
        assert event.from_status == event.to_status == StudyStatus.ORDERED
        assert study.low_value_text


def test_history_has_escalations_returns_cancellations_and_critical_findings(history):
    studies = history_studies()
    escalated = studies.filter(escalation_tier__gt=0)
    assert escalated.exists()
    assert RoutingDecision.objects.filter(
        study__in=escalated, trigger__startswith="escalation.tier"
    ).exists()
    returned = studies.filter(status=StudyStatus.REJECTED)
    assert returned.exists()
    assert ReferralRejection.objects.filter(study__in=returned).count() == returned.count()
    assert studies.filter(status=StudyStatus.CANCELLED).exists()
    findings = CriticalFinding.objects.filter(study__in=studies)
    assert findings.exists()
    assert all(f.communicated_at and f.communicated_at > f.flagged_at for f in findings)


def test_every_history_study_is_finished_and_in_the_past(history):
    studies = history_studies()
    statuses = set(studies.values_list("status", flat=True))
    assert statuses <= {StudyStatus.FINAL, StudyStatus.CANCELLED, StudyStatus.REJECTED}
    latest = StudyEvent.objects.filter(study__in=studies).order_by("-at").first()
    assert latest is not None
    assert latest.at < dt.datetime.now(dt.UTC)


def test_rerunning_adds_no_history_twice(history):
    def counts() -> tuple[int, ...]:
        return (
            history_studies().count(),
            StudyEvent.objects.count(),
            Assignment.objects.count(),
            ReportVersion.objects.count(),
            Shift.objects.filter(source="demo-history").count(),
            RoutingDecision.objects.count(),
        )

    before = counts()
    out = seed()
    assert "History: 0 studies added" in out
    assert counts() == before


def test_history_does_not_stop_the_current_demo_studies_from_being_seeded(history):
    out = StringIO()
    call_command("seed_demo", "--studies", "30", stdout=out)
    assert Study.objects.exclude(accession_number__contains="-H").count() == 30
