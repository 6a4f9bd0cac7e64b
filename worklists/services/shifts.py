"""Shifts: import from iCalendar (.ics) and CSV files, all or nothing; notice shift starts.

Local times without a zone are in ROUTING_SHIFT_TIME_ZONE (Europe/Oslo by default) and are placed
on the local wall clock: a night shift 22:00-08:00 ends at 08:00 local time the next morning, 9 or
11 hours later across a DST change. Every row is checked before anything is written; one bad row
and nothing is imported, and each error names its line (CSV) or event UID (ics).
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
from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from worklists import coverage
from worklists.models import Assignment, Radiologist, Shift, Site, Subspecialty
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
        self.worklists = dict(Subspecialty.objects.values_list("code", "id"))
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


def _parse_ics(data: bytes, lookups: _Lookups) -> tuple[list[ShiftRow], list[str]]:
    zone = zoneinfo.ZoneInfo(settings.ROUTING_SHIFT_TIME_ZONE)
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        return [], [f"not an iCalendar file: {exc}"]
    rows: list[ShiftRow] = []
    errors: list[str] = []
    for number, event in enumerate(calendar.walk("VEVENT"), start=1):
        uid = str(event.get("UID", "")).strip()
        where = f"event {uid}" if uid else f"event #{number}"
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
        sites = lookups.codes(
            str(event.get("X-TELERAD-SITES", "")), lookups.sites, "site", row_errors
        )
        target = _target(str(event.get("X-TELERAD-TARGET-WORK-UNITS", "")), row_errors)
        if row_errors:
            errors += [f"{where}: {e}" for e in row_errors]
            continue
        assert rid is not None
        assert starts_at is not None
        assert ends_at is not None
        rows.append(
            ShiftRow(
                where=where,
                radiologist_id=rid,
                starts_at=starts_at,
                ends_at=ends_at,
                role=role,
                worklist_ids=worklists,
                site_ids=sites,
                target_work_units=target,
                external_id=uid,
            )
        )
    return rows, errors


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


@transaction.atomic
def shifts_import(*, content: bytes, filename: str) -> ImportResult:
    """Import a schedule (.ics or .csv): every row checked first, then all written, or none.

    A row with an external id (the ics UID) updates the shift imported before with that id."""
    lookups = _Lookups()
    if filename.lower().endswith((".ics", ".ical", ".ifb")):
        rows, errors = _parse_ics(content, lookups)
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
    return ImportResult(created=created, updated=updated)


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
