"""Closed days kept: each closed day's studies signed final counted once per site, priority and
whole minute of each span (indicators.models), and a period's turnaround by site or priority
taken from those counts for its kept days and from the milestone rows for the rest
(docs/indicators.md, "Closed days kept")."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from indicators.aggregates import WholeMinutes, percentile_of_counts
from indicators.models import DaySigned, DaySigner, DaySpan, KeptDay
from indicators.periods import LONGEST_DAYS, Period
from indicators.scope import Viewer
from worklists.models import Priority, StudyMilestones

# The spans measured (milestone columns): each from the first event of its start.
SPANS: dict[str, tuple[str, str]] = {
    "order_to_final": ("ordered_at", "final_at"),
    "ready_to_final": ("first_ready_at", "final_at"),
    "ready_to_opened": ("first_ready_at", "first_opened_at"),
    "preliminary_to_final": ("first_preliminary_at", "final_at"),
}
COUNTS = ("signed", "with_preliminary", "with_deadline", "within_deadline")
# pg_advisory_xact_lock's first key: this module's locks, one per UTC day (the second key);
# indicators/migrations/0002's trigger takes them shared.
DAY_LOCKS = 1717
SECONDS_A_DAY = 86400


def signed_in(start: dt.datetime, end: dt.datetime) -> QuerySet[StudyMilestones]:
    """The studies signed final in [start, end): their milestone rows (index on final_at)."""
    return StudyMilestones.objects.filter(final_at__gte=start, final_at__lt=end)


def signed_counts(signed: QuerySet[StudyMilestones], *keys: str) -> QuerySet[Any, dict[str, Any]]:
    """Per ``keys``: the studies signed, with a preliminary, with a deadline, within it."""
    has_deadline = Q(deadline__isnull=False)
    return (
        signed.values(*keys)
        .order_by()
        .annotate(
            signed=Count("pk"),
            with_preliminary=Count("first_preliminary_at"),
            with_deadline=Count("pk", filter=has_deadline),
            within_deadline=Count("pk", filter=has_deadline & Q(final_at__lte=F("deadline"))),
        )
    )


def span_minutes(
    signed: QuerySet[StudyMilestones], span: str, *keys: str
) -> QuerySet[Any, dict[str, Any]]:
    """Per ``keys`` and whole minute of ``span``: the studies signed (those without the span's
    start left out, as a percentile leaves out NULLs)."""
    start, end = SPANS[span]
    return (
        signed.filter(**{f"{start}__isnull": False, f"{end}__isnull": False})
        .values(*keys, minute=WholeMinutes(F(start), F(end)))
        .order_by()
        .annotate(studies=Count("pk"))
    )


def signer_counts(signed: QuerySet[StudyMilestones]) -> QuerySet[Any, dict[str, Any]]:
    """Per worklist, signer and work units: the studies signed, and the STAT ones."""
    return (
        signed.filter(signed_by__isnull=False)
        .values("worklist_id", "signed_by_id", "work_units")
        .order_by()
        .annotate(signed=Count("pk"), stat=Count("pk", filter=Q(priority=Priority.STAT)))
    )


def keep_day(day: dt.date, *, now: dt.datetime | None = None) -> bool:
    """Count ``day``'s studies signed final into DaySigned, DaySpan and DaySigner and mark it
    kept. False, nothing written, while the day can not be kept yet: it is not over in UTC
    (below), or a change to one of its rows is in flight (the next run keeps it)."""
    period = Period(first_day=day, last_day=day)
    utc_days = _utc_days(period)
    if (utc_days.stop * SECONDS_A_DAY) > (now or timezone.now()).timestamp():
        return False
    with transaction.atomic():
        if not _lock_out_writers(utc_days):
            transaction.set_rollback(True)  # and with it the locks already taken
            return False
        DaySigned.objects.filter(day=day).delete()
        DaySpan.objects.filter(day=day).delete()
        DaySigner.objects.filter(day=day).delete()
        signed = signed_in(period.start, period.end)
        DaySigned.objects.bulk_create(
            DaySigned(day=day, **row) for row in signed_counts(signed, "site_id", "priority")
        )
        DaySpan.objects.bulk_create(
            DaySpan(day=day, span=span, **row)
            for span in SPANS
            for row in span_minutes(signed, span, "site_id", "priority")
        )
        DaySigner.objects.bulk_create(DaySigner(day=day, **row) for row in signer_counts(signed))
        KeptDay.objects.update_or_create(
            day=day,
            defaults={"starts_at": period.start, "ends_at": period.end, "kept_at": timezone.now()},
        )
    return True


def _utc_days(period: Period) -> range:
    """The UTC days (days since 1970) the period's moments fall on: the keys of its locks."""
    first = int(period.start.timestamp()) // SECONDS_A_DAY
    last = (int(period.end.timestamp()) - 1) // SECONDS_A_DAY
    return range(first, last + 1)


def _lock_out_writers(utc_days: range) -> bool:
    """PostgreSQL: the exclusive lock on each UTC day, if no transaction that changed a
    milestone row signed on it is still open (each holds the day's shared lock, taken by the
    trigger that drops a kept day); then a change to come waits for this transaction and drops
    what it wrote, so no change is missed by both. False, at once, if a day's lock is held:
    never waiting, this neither stalls the writers queued behind it nor deadlocks with one.
    A day is kept once its UTC days are over, so the writers of today's rows never meet it."""
    if connection.vendor != "postgresql":
        return True  # SQLite: one writer at a time
    with connection.cursor() as cursor:
        for utc_day in utc_days:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [DAY_LOCKS, utc_day])
            if not cursor.fetchone()[0]:
                return False
    return True


def keep_closed_days(*, days: int = LONGEST_DAYS, now: dt.datetime | None = None) -> int:
    """Keep every day of the last ``days`` before today that is not kept (new, changed since it
    was kept, or kept with other bounds: another TIME_ZONE), each in its own transaction, and
    forget the kept counts of days before them; how many were kept."""
    now = now or timezone.now()
    yesterday = timezone.localdate(now) - dt.timedelta(days=1)
    first = yesterday - dt.timedelta(days=days - 1)
    _forget_before(first)
    kept = {
        day
        for day, starts, ends in KeptDay.objects.values_list("day", "starts_at", "ends_at")
        if _bounds_now(day, starts, ends)
    }
    wanted = [first + dt.timedelta(days=n) for n in range(days)]
    return sum(keep_day(day, now=now) for day in wanted if day not in kept)


def _forget_before(first: dt.date) -> None:
    """The kept counts of days before ``first``: a period that far back reads its rows."""
    with transaction.atomic():
        KeptDay.objects.filter(day__lt=first).delete()
        for counts in (DaySigned, DaySpan, DaySigner):
            counts.objects.filter(day__lt=first).delete()


def _bounds_now(day: dt.date, starts: dt.datetime, ends: dt.datetime) -> bool:
    """Whether a kept day's moments are its local midnights under the TIME_ZONE of now."""
    period = Period(first_day=day, last_day=day)
    return (starts, ends) == (period.start, period.end)


def signers(period: Period) -> list[dict[str, Any]]:
    """``signer_counts`` over the period, every site: kept days from their counts, the rest of
    the period from its milestone rows (a row for the kept days and one for the rest)."""
    kept, rest = _split(period)
    rows = [
        dict(row)
        for row in DaySigner.objects.filter(day__in=kept)
        .values("worklist_id", "signed_by_id", "work_units")
        .order_by()
        .annotate(signed=Sum("signed"), stat=Sum("stat"))
    ]
    if rest is not None:
        rows += signer_counts(StudyMilestones.objects.filter(rest))
    return rows


def _split(period: Period) -> tuple[list[dt.date], Q | None]:
    """The period's kept days, and the milestone rows of the rest of it (None: all kept)."""
    kept = _kept(period)
    gaps = _not_kept(period, [(starts, ends) for _d, starts, ends in kept])
    return [day for day, _s, _e in kept], (_any_of(gaps) if gaps else None)


def _kept(period: Period) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """The period's kept days: (day, starts_at, ends_at); a day kept under another TIME_ZONE
    (other moments for the same date, which may overlap its neighbours) is not one of them."""
    return [
        (day, starts, ends)
        for day, starts, ends in KeptDay.objects.filter(
            day__gte=period.first_day, day__lte=period.last_day
        ).values_list("day", "starts_at", "ends_at")
        if _bounds_now(day, starts, ends)
    ]


def turnaround_by(
    viewer: Viewer | None, period: Period, key: str, spans: tuple[str, ...]
) -> dict[Any, dict[str, Any]]:
    """Per value of ``key`` ("site_id" or "priority"), over the studies signed final in the
    period: the counts of ``signed_counts``, the cancer pathway's own deadline counts, and the
    median and 90th percentile in seconds of each of ``spans`` (whole minutes). Kept days from
    their counts, the rest of the period from its milestone rows."""
    kept, rest = _split(period)
    scope = Q() if viewer is None else viewer.sites_q("")
    counted = DaySigned.objects.filter(scope, day__in=kept)
    minutes = DaySpan.objects.filter(scope, day__in=kept)
    signed_rows = list(
        counted.values(key, "priority").order_by().annotate(**{n: Sum(n) for n in COUNTS})
    )
    span_rows = list(
        minutes.filter(span__in=spans)
        .values(key, "span", "minute")
        .order_by()
        .annotate(studies=Sum("studies"))
    )
    if rest is not None:
        live = StudyMilestones.objects.filter(rest).filter(scope)
        signed_rows += list(signed_counts(live, key, "priority"))
        for span in spans:
            span_rows += [{**row, "span": span} for row in span_minutes(live, span, key)]
    return _figures(key, spans, signed_rows, span_rows)


def _not_kept(
    period: Period, kept: list[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The parts of the period no kept day covers, as [start, end) ranges."""
    gaps, at = [], period.start
    for starts, ends in sorted(kept):
        if starts > at:
            gaps.append((at, starts))
        at = max(at, ends)
    if at < period.end:
        gaps.append((at, period.end))
    return gaps


def _any_of(ranges: list[tuple[dt.datetime, dt.datetime]]) -> Q:
    found = Q()
    for start, end in ranges:
        found |= Q(final_at__gte=start, final_at__lt=end)
    return found


def _figures(
    key: str, spans: tuple[str, ...], signed_rows: list[dict[str, Any]], span_rows: list[dict]
) -> dict[Any, dict[str, Any]]:
    counts: dict[Any, Counter[str]] = defaultdict(Counter)
    for row in signed_rows:
        group = counts[row[key]]
        for name in COUNTS:
            group[name] += row[name]
        if row["priority"] == Priority.CANCER_PATHWAY:
            group["cancer_with_deadline"] += row["with_deadline"]
            group["cancer_within_deadline"] += row["within_deadline"]
    minutes: dict[tuple[Any, str], Counter[int]] = defaultdict(Counter)
    for row in span_rows:
        minutes[row[key], row["span"]][row["minute"]] += row["studies"]
    found = {}
    for group, figures in counts.items():
        if not figures["signed"]:
            continue
        shown: dict[str, Any] = {
            name: figures[name]
            for name in (*COUNTS, "cancer_with_deadline", "cancer_within_deadline")
        }
        for span in spans:
            spread = sorted(minutes[group, span].items())
            for suffix, fraction in (("p50", 0.5), ("p90", 0.9)):
                value = percentile_of_counts(spread, fraction)
                shown[f"{span}_{suffix}"] = None if value is None else value * 60
        found[group] = shown
    return found
