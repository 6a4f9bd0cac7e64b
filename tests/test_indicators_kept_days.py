"""Closed days kept (indicators.rollup): a kept day gives the figures its milestone rows give,
a change to one of its rows drops it in the same statement, today's signatures leave the kept
days alone, and keeping and changing a day never miss each other (PostgreSQL, real threads)."""

from __future__ import annotations

import datetime as dt
import io
import random
import threading
import time
from decimal import Decimal
from typing import cast

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from indicators.aggregates import percentile_of_counts, percentile_of_sorted
from indicators.models import DaySigned, DaySigner, DaySpan, KeptDay
from indicators.periods import GroupBy, Period
from indicators.rollup import (
    _lock_out_writers,
    _utc_days,
    keep_closed_days,
    keep_day,
    span_minutes,
)
from indicators.scope import viewer_of
from indicators.selectors import indicators
from indicators.tasks import keep_closed_days_task
from tests import factories
from tests import indicators_support as support
from worklists.models import Priority, Study, StudyEvent, StudyMilestones, StudyStatus

pytestmark = pytest.mark.django_db

KEPT_TABLES = ("sites", "priorities", "turnaround", "volumes", "amendments", "readers", "fairness")
NOVEMBER_10 = dt.date(2026, 11, 10)


@pytest.fixture
def scenario(site_a, site_b, neuro, owner, other_radiologist, outsider):
    return support.build(
        site_a=site_a, site_b=site_b, neuro=neuro, owner=owner, other=other_radiologist,
        outsider=outsider,
    )  # fmt: skip


def tables(user, group_by=GroupBy.SITE):
    found = indicators(viewer=viewer_of(user), period=support.NOVEMBER, group_by=group_by)
    return {table.key: table.rows for table in found.tables if table.key in KEPT_TABLES}


def keep_november():
    return sum(keep_day(support.NOVEMBER.first_day + dt.timedelta(days=n)) for n in range(30))


def test_percentile_of_counts_is_the_percentile_of_the_values_written_out():
    rng = random.Random(7)
    for _ in range(200):
        values = sorted(rng.choice(range(-3, 40)) for _ in range(rng.randint(1, 30)))
        counts = sorted({v: values.count(v) for v in values}.items())
        for fraction in (0, 0.5, 0.9, 1):
            assert percentile_of_counts(counts, fraction) == pytest.approx(
                percentile_of_sorted([float(v) for v in values], fraction)
            )
    assert percentile_of_counts([], 0.5) is None


def test_spans_are_counted_in_whole_minutes_a_half_minute_up(scenario):
    milestones = StudyMilestones.objects.get(study=scenario.studies["S1"])
    base = milestones.final_at
    for seconds, minute in ((29, 0), (30, 1), (89, 1), (90, 2), (-29, 0), (-31, -1), (-90, -1)):
        milestones.ordered_at = base - dt.timedelta(seconds=seconds)
        milestones.save(update_fields=["ordered_at"])
        rows = span_minutes(
            StudyMilestones.objects.filter(pk=milestones.pk), "order_to_final", "site_id"
        )
        assert [row["minute"] for row in rows] == [minute], seconds


@pytest.mark.parametrize("group_by", [GroupBy.SITE, GroupBy.PRIORITY])
def test_kept_days_give_the_figures_of_their_milestone_rows(
    scenario, coordinator, site_user, group_by
):
    live = {user: tables(user, group_by) for user in (coordinator, site_user)}

    assert keep_november() == 30
    assert KeptDay.objects.count() == 30
    assert DaySigned.objects.filter(day=NOVEMBER_10).count() == 4  # alfa x 3 priorities, bravo
    assert DaySigner.objects.filter(day=NOVEMBER_10).count() == 4  # owner 1.0 and 2.0, other, out

    for user, figures in live.items():
        assert tables(user, group_by) == figures


def _signed_around_midnights(sites, neuro, readers) -> None:
    """120 studies signed within an hour and a half of a local midnight, 19-31 October 2026
    (summer time ends on the 25th), at random sites, priorities, deadlines and work units."""
    rng = random.Random(3)
    priorities = [Priority.STAT, Priority.URGENT, Priority.CANCER_PATHWAY, Priority.ROUTINE]
    for _ in range(120):
        day = dt.date(2026, 10, rng.randint(19, 31))
        midnight = timezone.make_aware(dt.datetime.combine(day, dt.time()))
        final = midnight + dt.timedelta(seconds=rng.randint(-5400, 5400))
        ordered = final - dt.timedelta(seconds=rng.randint(0, 20000))
        study = cast(
            Study,
            factories.StudyFactory(
                site=rng.choice(sites),
                worklist=neuro,
                ordered_at=ordered,
                priority=rng.choice(priorities),
                deadline=final + dt.timedelta(seconds=rng.randint(-3000, 3000)),
                work_units=Decimal(rng.choice(["1.00", "2.00", "3.50"])),
            ),
        )
        reader = rng.choice(readers)
        steps = [
            (StudyStatus.ORDERED, ordered, None),
            (StudyStatus.READY, ordered + (final - ordered) / 4, None),
            (StudyStatus.IN_PROGRESS, ordered + (final - ordered) / 2, reader),
        ]
        if rng.random() < 0.5:
            steps.append((StudyStatus.PRELIMINARY, ordered + (final - ordered) * 3 / 4, reader))
        steps.append((StudyStatus.FINAL, final, reader))
        previous = ""
        for status, at, actor in steps:
            StudyEvent.objects.create(
                study=study, from_status=previous, to_status=status,
                actor=actor.user if actor else None, actor_label="bench", at=at,
            )  # fmt: skip
            previous = status
        study.status = StudyStatus.FINAL
        study.save(update_fields=["status"])


@pytest.mark.parametrize("group_by", list(GroupBy))
def test_kept_days_around_midnights_and_the_clock_change_give_every_viewer_the_rows_figures(
    site_a, site_b, neuro, owner, other_radiologist, outsider, coordinator, site_user, group_by
):
    _signed_around_midnights([site_a, site_b], neuro, [owner, other_radiologist, outsider])
    october = Period(first_day=dt.date(2026, 10, 20), last_day=dt.date(2026, 10, 30))
    viewers = [coordinator, site_user, owner.user, outsider.user]  # owner: alfa; outsider: bravo

    def shown(user):
        found = indicators(viewer=viewer_of(user), period=october, group_by=group_by)
        return {table.key: table.rows for table in found.tables if table.key in KEPT_TABLES}

    live = {user.pk: shown(user) for user in viewers}
    for n in range(0, 13, 2):  # every other day kept: the rest read from the rows
        assert keep_day(dt.date(2026, 10, 19) + dt.timedelta(days=n))

    for user in viewers:
        assert shown(user) == live[user.pk], user.username


def test_a_signature_moved_from_one_kept_day_to_another_drops_both(scenario):
    keep_november()
    row = StudyMilestones.objects.get(study=scenario.studies["S1"])

    StudyMilestones.objects.filter(pk=row.pk).update(final_at=row.final_at + dt.timedelta(days=2))

    assert set(KeptDay.objects.filter(day__gte=NOVEMBER_10).values_list("day", flat=True)) == {
        NOVEMBER_10 + dt.timedelta(days=n) for n in range(1, 21) if n != 2
    }


def test_a_day_kept_under_another_time_zone_is_not_read_and_is_kept_again(scenario, coordinator):
    keep_closed_days()
    live = tables(coordinator)
    shifted = KeptDay.objects.get(day=NOVEMBER_10)
    shifted.starts_at -= dt.timedelta(hours=1)  # kept under UTC: an hour of the 9th in it
    shifted.ends_at -= dt.timedelta(hours=1)
    shifted.save()
    DaySpan.objects.filter(day=NOVEMBER_10).update(minute=9999)

    assert tables(coordinator) == live
    assert keep_closed_days() == 1
    assert tables(coordinator) == live


def test_kept_figures_match_the_hand_worked_ones(scenario, coordinator):
    keep_november()
    sites = {row["group"]: row for row in tables(coordinator)["turnaround"]}

    assert sites["Alfa sjukehus"]["ready_to_final_p50"] == pytest.approx(70)  # 60, 70, 120
    assert sites["Alfa sjukehus"]["ready_to_final_p90"] == pytest.approx(110)
    assert sites["Alfa sjukehus"]["preliminary_to_final_p50"] == pytest.approx(80)
    assert sites["Bravo røntgeninstitutt"]["within_deadline"] == 0


def test_the_command_and_the_task_keep_the_closed_days_not_kept(scenario, monkeypatch):
    # At noon: between Oslo's midnight and UTC's, yesterday is not over in UTC and waits.
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC))
    out = io.StringIO()
    call_command("keep_indicator_days", "--days", "40", stdout=out)
    KeptDay.objects.filter(day=NOVEMBER_10).delete()
    keep_closed_days_task()

    assert out.getvalue().strip() == "40 day(s) kept"
    assert KeptDay.objects.filter(day=NOVEMBER_10).exists()


def test_yesterday_waits_until_it_is_over_in_utc_too(scenario):
    oslo_midnight = dt.datetime(2026, 12, 3, 23, tzinfo=dt.UTC)  # 4 December begins in Oslo

    assert keep_day(dt.date(2026, 12, 3), now=oslo_midnight + dt.timedelta(minutes=30)) is False
    assert keep_day(dt.date(2026, 12, 3), now=oslo_midnight + dt.timedelta(hours=1)) is True


def test_the_day_not_over_is_not_kept(scenario):
    today = timezone.localdate()

    assert keep_day(today) is False
    assert not KeptDay.objects.filter(day=today).exists()


def test_keeping_the_closed_days_again_keeps_only_those_dropped_since(scenario, site_b):
    first = keep_closed_days()
    again = keep_closed_days()
    scenario.studies["S1"].site = site_b
    scenario.studies["S1"].save(update_fields=["site"])  # a late correction of its site

    assert first >= 30
    assert again == 0
    assert not KeptDay.objects.filter(day=NOVEMBER_10).exists()
    assert keep_closed_days() == 1


def test_a_late_change_to_a_kept_day_drops_it_and_the_figures_follow(scenario, coordinator, site_b):
    keep_november()
    s3 = scenario.studies["S3"]
    s3.site = site_b
    s3.save(update_fields=["site"])

    assert not KeptDay.objects.filter(day=NOVEMBER_10).exists()
    assert KeptDay.objects.count() == 29
    changed = tables(coordinator)
    KeptDay.objects.all().delete()
    assert changed == tables(coordinator)
    bravo = {row["group"]: row for row in changed["turnaround"]}["Bravo røntgeninstitutt"]
    assert bravo["signed"] == 2


def test_a_change_of_a_kept_days_work_units_drops_it_and_the_readers_figures_follow(
    scenario, coordinator
):
    keep_november()
    s1 = scenario.studies["S1"]
    s1.work_units = Decimal("2.50")
    s1.save(update_fields=["work_units"])

    assert not KeptDay.objects.filter(day=NOVEMBER_10).exists()
    owner = {row["group"]: row for row in tables(coordinator)["readers"]}[
        scenario.owner.display_name
    ]
    assert owner["work_units"] == 4.5  # S1 2.5 + S2 2.0
    assert owner["heavy"] == 2


def test_a_signature_recorded_late_for_a_kept_day_drops_it(scenario, owner):
    keep_november()
    study = factories.StudyFactory(site=scenario.site_a, worklist=scenario.neuro)
    StudyEvent.objects.create(
        study=study, from_status="", to_status=StudyStatus.ORDERED, actor_label="ris",
        at=support.at(0),
    )  # fmt: skip
    assert KeptDay.objects.filter(day=NOVEMBER_10).exists()  # ordered, not signed: kept

    StudyEvent.objects.create(
        study=study,
        from_status=StudyStatus.ORDERED,
        to_status=StudyStatus.FINAL,
        actor=owner.user,
        actor_label=owner.display_name,
        at=support.at(90),
    )

    assert not KeptDay.objects.filter(day=NOVEMBER_10).exists()
    assert KeptDay.objects.count() == 29


def test_a_signature_today_leaves_the_kept_days_kept(scenario, owner):
    keep_november()
    study = factories.StudyFactory(site=scenario.site_a, worklist=scenario.neuro)
    now = dt.datetime.now(dt.UTC)
    for previous, status in (("", StudyStatus.ORDERED), (StudyStatus.ORDERED, StudyStatus.FINAL)):
        StudyEvent.objects.create(
            study=study, from_status=previous, to_status=status, actor=owner.user,
            actor_label=owner.display_name, at=now,
        )  # fmt: skip

    assert KeptDay.objects.count() == 30


def test_the_kept_counts_of_a_dropped_day_are_not_read(scenario, coordinator):
    keep_november()
    live = tables(coordinator)
    KeptDay.objects.filter(day=NOVEMBER_10).delete()  # as the trigger drops it
    DaySpan.objects.filter(day=NOVEMBER_10).update(minute=9999)

    assert tables(coordinator) == live


def _change_then(scenario, site, *, meanwhile) -> None:
    """S3 moved to ``site`` in a transaction that calls ``meanwhile`` before it commits."""
    with transaction.atomic():
        s3 = Study.objects.get(pk=scenario.studies["S3"].pk)
        s3.site = site
        s3.save(update_fields=["site"])  # its milestone row: the day's shared lock
        meanwhile()


def _in_thread(work) -> threading.Thread:
    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's locks")
@pytest.mark.django_db(transaction=True)
def test_a_day_with_a_change_in_flight_is_kept_only_after_the_change_commits(scenario, site_b):
    changed, tried = threading.Event(), threading.Event()

    def meanwhile():
        changed.set()
        tried.wait(timeout=10)

    change = _in_thread(lambda: _change_then(scenario, site_b, meanwhile=meanwhile))
    changed.wait(timeout=10)
    started = time.monotonic()
    during = keep_day(NOVEMBER_10)
    waited = time.monotonic() - started
    tried.set()
    change.join(timeout=30)

    assert during is False  # at once, not waiting: the change holds the day's lock
    assert waited < 1
    assert not KeptDay.objects.filter(day=NOVEMBER_10).exists()
    assert keep_day(NOVEMBER_10) is True
    bravo = DaySigned.objects.filter(day=NOVEMBER_10, site=site_b)
    assert sum(bravo.values_list("signed", flat=True)) == 2  # S5 and the moved S3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's locks")
@pytest.mark.django_db(transaction=True)
def test_a_change_while_a_day_is_being_kept_waits_and_drops_what_was_kept(scenario, site_b):
    day = Period(first_day=NOVEMBER_10, last_day=NOVEMBER_10)
    locked = threading.Event()
    took: list[float] = []

    def keeping():  # keep_day's transaction, held open a second after its locks
        with transaction.atomic():
            assert _lock_out_writers(_utc_days(day))
            KeptDay.objects.create(
                day=NOVEMBER_10, starts_at=day.start, ends_at=day.end, kept_at=timezone.now()
            )
            locked.set()
            time.sleep(1)

    def change():
        locked.wait(timeout=10)
        started = time.monotonic()
        _change_then(scenario, site_b, meanwhile=lambda: None)
        took.append(time.monotonic() - started)

    threads = [_in_thread(keeping), _in_thread(change)]
    for thread in threads:
        thread.join(timeout=30)

    assert len(took) == 1
    assert took[0] > 0.5  # the change waited for the keeping to commit
    assert not KeptDay.objects.filter(day=NOVEMBER_10).exists()  # and then dropped it
