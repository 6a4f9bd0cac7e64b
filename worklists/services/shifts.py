"""Shifts: import from iCalendar (.ics) and CSV files, all or nothing; notice shift starts.

Local times without a zone are in ROUTING_SHIFT_TIME_ZONE (Europe/Oslo by default) and are placed
on the local wall clock: a night shift 22:00-08:00 ends at 08:00 local time the next morning, 9 or
11 hours later across a DST change. Every row is checked before anything is written; one bad row
and nothing is imported, and each error names its line (CSV) or event UID (ics).

A recurring event (RRULE and RDATE, less EXDATE, with its moved occurrences) is expanded by
recurring-ical-events into one shift per occurrence, from the import on (the one under way then
included) to ROUTING_SHIFT_RECURRENCE_DAYS ahead: an open-ended roster has no last occurrence, and
occurrences already over are history, not schedule. An occurrence keeps its wall-clock time in
its zone (a weekly 22:00 start is 22:00 on both sides of a DST change; its UTC instant moves).
Each is keyed by UID and RECURRENCE-ID, so importing the file again updates the occurrences
imported before, adds those that came into the horizon, and removes the ones not yet started
that the file no longer has (an EXDATE added for a holiday).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import icalendar
import recurring_ical_events
from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from worklists import coverage
from worklists.models import Assignment, Radiologist, Shift, Site, Worklist
from worklists.services.pushes import fill_queue_after_commit

CSV_COLUMNS = ("radiologist", "date", "starts", "ends")
CSV_OPTIONAL = ("role", "worklists", "sites", "target_work_units", "external_id")


class ShiftImportError(ValueError):
    """The file has bad rows; nothing was imported."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s), nothing imported: " + "; ".join(errors[:5]))


@dataclass
class ShiftRow:
    where: str  # "line 4" or "event UID ..."
    radiologist_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    role: str
    worklist_ids: list[int] = field(default_factory=list)
    site_ids: list[int] = field(default_factory=list)
    target_work_units: Decimal = Decimal("0")
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    removed: int = 0  # occurrences of recurring events the file no longer has


@dataclass(frozen=True, slots=True)
class Horizon:
    """Where recurring events are expanded: from ``starts`` (the import) to ``ends``."""

    starts: dt.datetime
    ends: dt.datetime


@dataclass
class Series:
    """A recurring event: its occurrences' shifts are replaced as a whole within the horizon."""

    uid: str
    external_ids: set[tuple[int, str]] = field(default_factory=set)  # (radiologist, id)


class _Lookups:
    """Radiologists, worklists and sites by the names a schedule uses, loaded once."""

    def __init__(self) -> None:
        self.radiologists: dict[str, int] = {}
        for rid, hpr, username, email in Radiologist.objects.values_list(
            "id", "hpr_number", "user__username", "user__email"
        ):
            self.radiologists[hpr] = rid
            self.radiologists[username.lower()] = rid
            if email:
                self.radiologists[email.lower()] = rid
        self.worklists = dict(Worklist.objects.values_list("code", "id"))
        self.sites = dict(Site.objects.values_list("code", "id"))

    def codes(self, raw: str, table: dict[str, int], what: str, errors: list[str]) -> list[int]:
        ids = []
        for code in filter(None, (c.strip() for c in raw.replace(";", " ").split())):
            if code not in table:
                errors.append(f"unknown {what} {code!r}")
            else:
                ids.append(table[code])
        return ids


def _role(raw: str, errors: list[str]) -> str:
    value = (raw or "PRIMARY").strip().upper()
    if value not in Shift.Role.values:
        errors.append(f"role must be primary or backup, not {raw!r}")
        return Shift.Role.PRIMARY
    return value


def _target(raw: str, errors: list[str]) -> Decimal:
    if not (raw or "").strip():
        return Decimal("0")
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        errors.append(f"target_work_units must be a number, not {raw!r}")
        return Decimal("0")
    if value < 0 or value >= Decimal("100000"):
        errors.append(f"target_work_units out of range: {raw!r}")
    return value


def _parse_csv(text: str, lookups: _Lookups) -> tuple[list[ShiftRow], list[str]]:
    zone = settings.ROUTING_SHIFT_TIME_ZONE
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        return [], [f"line 1: missing column(s) {', '.join(missing)}"]
    unknown = [h for h in header if h not in CSV_COLUMNS + CSV_OPTIONAL]
    if unknown:
        return [], [f"line 1: unknown column(s) {', '.join(unknown)}"]
    rows: list[ShiftRow] = []
    errors: list[str] = []
    for number, raw in enumerate(reader, start=2):
        record = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        row_errors: list[str] = []
        rid = lookups.radiologists.get(record["radiologist"].lower()) or lookups.radiologists.get(
            record["radiologist"]
        )
        if rid is None:
            row_errors.append(f"unknown radiologist {record['radiologist']!r}")
        try:
            day = dt.date.fromisoformat(record["date"])
            starts = dt.time.fromisoformat(record["starts"])
            ends = dt.time.fromisoformat(record["ends"])
        except ValueError as exc:
            row_errors.append(f"date as YYYY-MM-DD and times as HH:MM ({exc})")
            day, starts, ends = dt.date.min, dt.time(0), dt.time(0)
        role = _role(record.get("role", ""), row_errors)
        worklists = lookups.codes(
            record.get("worklists", ""), lookups.worklists, "worklist", row_errors
        )
        sites = lookups.codes(record.get("sites", ""), lookups.sites, "site", row_errors)
        target = _target(record.get("target_work_units", ""), row_errors)
        if row_errors:
            errors += [f"line {number}: {e}" for e in row_errors]
            continue
        starts_at, ends_at = coverage.local_span(
            start_day=day, starts=starts, ends=ends, time_zone=zone
        )
        assert rid is not None
        rows.append(
            ShiftRow(
                where=f"line {number}",
                radiologist_id=rid,
                starts_at=starts_at,
                ends_at=ends_at,
                role=role,
                worklist_ids=worklists,
                site_ids=sites,
                target_work_units=target,
                external_id=record.get("external_id", ""),
            )
        )
    return rows, errors


def _aware(value: object, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return None  # a date: all-day events are not shifts


def _parse_ics(
    data: bytes, lookups: _Lookups, horizon: Horizon
) -> tuple[list[ShiftRow], list[Series], list[str]]:
    zone = zoneinfo.ZoneInfo(settings.ROUTING_SHIFT_TIME_ZONE)
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        return [], [], [f"not an iCalendar file: {exc}"]
    rows: list[ShiftRow] = []
    errors: list[str] = []
    events = calendar.walk("VEVENT")
    recurring = {
        str(event.get("UID", "")).strip()
        for event in events
        if ("RRULE" in event or "RDATE" in event) and str(event.get("UID", "")).strip()
    }
    for number, event in enumerate(events, start=1):
        uid = str(event.get("UID", "")).strip()
        if uid in recurring:
            continue  # expanded below, with its moved occurrences (same UID, RECURRENCE-ID)
        if "RRULE" in event or "RDATE" in event:
            errors.append(f"event #{number}: a recurring event needs a UID")
            continue
        where = f"event {uid}" if uid else f"event #{number}"
        row, row_errors = _event_row(
            event, where=where, external_id=uid, lookups=lookups, zone=zone
        )
        errors += row_errors
        if row is not None:
            rows.append(row)
    series = {uid: Series(uid) for uid in sorted(recurring)}
    if series:
        try:
            occurrences = recurring_ical_events.of(calendar).between(horizon.starts, horizon.ends)
        except (recurring_ical_events.InvalidCalendar, ValueError) as exc:
            return [], [], [f"the recurrence of an event cannot be read: {exc}"]
        for occurrence in occurrences:
            uid = str(occurrence.get("UID", "")).strip()
            if uid not in series:
                continue
            key = _recurrence_key(occurrence, zone)
            where = f"event {uid} occurrence {key}"
            row, row_errors = _event_row(
                occurrence, where=where, external_id=f"{uid}/{key}", lookups=lookups, zone=zone
            )
            errors += row_errors
            if row is not None:
                rows.append(row)
                series[uid].external_ids.add((row.radiologist_id, row.external_id))
    return rows, list(series.values()), errors


def _recurrence_key(occurrence: icalendar.cal.Component, zone: zoneinfo.ZoneInfo) -> str:
    """Which occurrence this is, whatever it was moved to: its RECURRENCE-ID, in UTC."""
    value = occurrence.decoded("RECURRENCE-ID", None) or occurrence.decoded("DTSTART")
    moment = _aware(value, zone)
    if moment is None:  # an all-day occurrence: refused by _event_row, named by its date
        return str(value).replace("-", "")
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _event_row(
    event: icalendar.cal.Component,
    *,
    where: str,
    external_id: str,
    lookups: _Lookups,
    zone: zoneinfo.ZoneInfo,
) -> tuple[ShiftRow | None, list[str]]:
    """One event (or one occurrence of a recurring one) as a shift, or what is wrong with it."""
    row_errors: list[str] = []
    who = str(event.get("X-TELERAD-RADIOLOGIST", "")).strip()
    if not who and (attendee := event.get("ATTENDEE")):
        who = str(attendee).removeprefix("mailto:").removeprefix("MAILTO:")
    rid = lookups.radiologists.get(who.lower()) or lookups.radiologists.get(who)
    if rid is None:
        row_errors.append(f"unknown radiologist {who!r} (X-TELERAD-RADIOLOGIST or ATTENDEE)")
    try:
        starts_at = _aware(event.decoded("DTSTART"), zone)
        ends_at = _aware(event.decoded("DTEND"), zone) if "DTEND" in event else None
    except (KeyError, ValueError) as exc:
        row_errors.append(f"DTSTART and DTEND must be date-times ({exc})")
        starts_at = ends_at = None
    if starts_at is None or ends_at is None:
        row_errors.append("DTSTART and DTEND must be date-times (not all-day)")
    role = _role(str(event.get("X-TELERAD-ROLE", "")), row_errors)
    worklists = lookups.codes(
        str(event.get("X-TELERAD-WORKLISTS", "")), lookups.worklists, "worklist", row_errors
    )
    sites = lookups.codes(str(event.get("X-TELERAD-SITES", "")), lookups.sites, "site", row_errors)
    target = _target(str(event.get("X-TELERAD-TARGET-WORK-UNITS", "")), row_errors)
    if len(external_id) > (Shift._meta.get_field("external_id").max_length or len(external_id)):
        row_errors.append("the UID is too long to keep")
    if row_errors:
        return None, [f"{where}: {e}" for e in row_errors]
    assert rid is not None
    assert starts_at is not None
    assert ends_at is not None
    return (
        ShiftRow(
            where=where,
            radiologist_id=rid,
            starts_at=starts_at,
            ends_at=ends_at,
            role=role,
            worklist_ids=worklists,
            site_ids=sites,
            target_work_units=target,
            external_id=external_id,
        ),
        [],
    )


def _check(rows: Iterable[ShiftRow]) -> list[str]:
    errors: list[str] = []
    seen: dict[tuple[int, str], str] = {}
    for row in rows:
        if row.ends_at <= row.starts_at:
            errors.append(f"{row.where}: the shift ends before it starts")
        elif row.ends_at - row.starts_at > dt.timedelta(hours=settings.ROUTING_MAX_SHIFT_HOURS):
            hours = settings.ROUTING_MAX_SHIFT_HOURS
            errors.append(f"{row.where}: longer than {hours} hours; check the dates")
        if row.external_id:
            key = (row.radiologist_id, row.external_id)
            if key in seen:
                errors.append(f"{row.where}: same id as {seen[key]}")
            seen[key] = row.where
    return errors


def shifts_parse(
    *, content: bytes, filename: str, horizon: Horizon
) -> tuple[list[ShiftRow], list[Series]]:
    """A schedule's shifts (.ics or .csv), every row checked, nothing written: what an import
    would write, or what the capacity planner replays as an edited roster. Recurring events
    are expanded within ``horizon``. Raises ShiftImportError with every bad row."""
    lookups = _Lookups()
    series: list[Series] = []
    if filename.lower().endswith((".ics", ".ical", ".ifb")):
        rows, series, errors = _parse_ics(content, lookups, horizon)
    elif filename.lower().endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ShiftImportError(["the CSV file is not UTF-8"]) from None
        rows, errors = _parse_csv(text, lookups)
    else:
        raise ShiftImportError([f"{filename}: import .ics or .csv files"])
    errors += _check(rows)
    if errors:
        raise ShiftImportError(errors)
    return rows, series


@transaction.atomic
def shifts_import(*, content: bytes, filename: str, now: dt.datetime | None = None) -> ImportResult:
    """Import a schedule (.ics or .csv): every row checked first, then all written, or none.

    A row with an external id (the ics UID; UID/RECURRENCE-ID for an occurrence of a recurring
    event) updates the shift imported before with that id. ``now``: when the import happens, the
    start of the horizon recurring events are expanded in."""
    now = now or timezone.now()
    horizon = Horizon(
        starts=now, ends=now + dt.timedelta(days=settings.ROUTING_SHIFT_RECURRENCE_DAYS)
    )
    rows, series = shifts_parse(content=content, filename=filename, horizon=horizon)
    created = updated = 0
    for row in rows:
        values = {
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
            "role": row.role,
            "target_work_units": row.target_work_units,
            "source": filename[:200],
        }
        if row.external_id:
            shift, was_created = Shift.objects.update_or_create(
                radiologist_id=row.radiologist_id, external_id=row.external_id, defaults=values
            )
        else:
            shift, was_created = (
                Shift.objects.create(radiologist_id=row.radiologist_id, **values),
                True,
            )
        shift.worklists.set(row.worklist_ids)
        shift.sites.set(row.site_ids)
        created += was_created
        updated += not was_created
    removed = sum(_remove_withdrawn(s, horizon) for s in series)
    return ImportResult(created=created, updated=updated, removed=removed)


def _remove_withdrawn(series: Series, horizon: Horizon) -> int:
    """Occurrences of ``series`` imported before that the file no longer has in the horizon (an
    EXDATE added, the rule changed, another reader named): removed if they have not started."""
    candidates = Shift.objects.filter(
        external_id__startswith=f"{series.uid}/",
        started_at__isnull=True,
        starts_at__gte=horizon.starts,
        starts_at__lt=horizon.ends,
    ).values_list("id", "radiologist_id", "external_id")
    withdrawn = [
        shift_id
        for shift_id, radiologist_id, external_id in candidates
        if (radiologist_id, external_id) not in series.external_ids
    ]
    _total, by_model = Shift.objects.filter(id__in=withdrawn).delete()
    return by_model.get(Shift._meta.label, 0)


def _previous_deficit(shift: Shift) -> Decimal:
    """Work units the reader fell short of target on their previous shift (never negative)."""
    previous = (
        Shift.objects.filter(radiologist_id=shift.radiologist_id, ends_at__lte=shift.starts_at)
        .order_by("-ends_at")
        .first()
    )
    if previous is None or previous.target_work_units <= 0:
        return Decimal("0")
    done = Assignment.objects.filter(
        Q(ended_at__isnull=True) | Q(end_reason="signed"),
        radiologist_id=shift.radiologist_id,
        assigned_at__gte=previous.starts_at,
        assigned_at__lt=previous.ends_at,
    ).aggregate(units=Sum("study__work_units"))["units"] or Decimal("0")
    return max(
        Decimal("0"), previous.target_work_units + previous.carried_deficit_work_units - done
    )


def shifts_start(*, now: dt.datetime | None = None) -> list[int]:
    """Notice shifts that have begun: carry the last shift's deficit over and fill the reader's
    queue (push). Compare-and-set on started_at: each shift starts once."""
    now = now or timezone.now()
    started: list[int] = []
    for shift in Shift.objects.filter(started_at__isnull=True, starts_at__lte=now, ends_at__gt=now):
        with transaction.atomic():
            deficit = _previous_deficit(shift)
            if not Shift.objects.filter(id=shift.id, started_at__isnull=True).update(
                started_at=now, carried_deficit_work_units=deficit
            ):
                continue
            fill_queue_after_commit(shift.radiologist_id, trigger="shift.start")
        started.append(shift.id)
    return started
