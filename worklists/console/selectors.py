"""What the coordinator's console shows: backlog, studies at risk, the readers' load, alerts.

Coordinators only: every public function here checks it (``scope_of`` calls
``require_coordinator``), whatever the caller (page, API). Every query that returns studies
starts from the scoping function (``worklists.access.studies_visible_to``, its site ids resolved
once per call); the callers audit the studies they show.

The query count is bounded: a fixed number of statements whatever the size of the backlog or the
number of readers (tests/test_console_page.py holds it).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from worklists.access import AnyUser, studies_of_sites, visible_site_ids
from worklists.classification import deadline_risk
from worklists.models import (
    UNREAD_STATUSES,
    Assignment,
    Competence,
    CoordinatorAlert,
    Credential,
    Radiologist,
    Shift,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
    Worklist,
)
from worklists.services.alerts import AlertNotFound, require_coordinator

ZERO = Decimal("0")


def _risk(deadline: dt.datetime | None, ready_at: dt.datetime | None, now: dt.datetime) -> str:
    """The one risk rule (Study.deadline_risk), on values rather than model instances."""
    return deadline_risk(
        deadline=deadline,
        ready_at=ready_at,
        now=now,
        risk_fraction=settings.DEADLINE_RISK_FRACTION,
        risk_minutes=settings.DEADLINE_RISK_MINUTES,
        share_cap_minutes=settings.DEADLINE_RISK_SHARE_CAP_MINUTES,
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """The coordinator's scope, resolved once per page or API call: the studies and sites they
    may see (``worklists.access.studies_visible_to``, whose site ids are read here once)."""

    studies: QuerySet[Study]
    sites: QuerySet[Site]


def scope_of(user: AnyUser) -> Scope:
    require_coordinator(user)
    site_ids = visible_site_ids(user)
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(id__in=site_ids)
    return Scope(studies=studies_of_sites(site_ids), sites=sites)


# --- backlog -----------------------------------------------------------------------------------


@dataclass(slots=True)
class BacklogLine:
    """Unread studies of one worklist or one site."""

    key: str  # worklist or site code
    name: str
    unread: int = 0
    work_units: Decimal = ZERO
    oldest_ready_at: dt.datetime | None = None
    at_risk: int = 0
    overdue: int = 0

    def add(self, *, units: Decimal, ready_at: dt.datetime | None, risk: str) -> None:
        self.unread += 1
        self.work_units += units
        if ready_at is not None and (
            self.oldest_ready_at is None or ready_at < self.oldest_ready_at
        ):
            self.oldest_ready_at = ready_at
        self.at_risk += risk == "at_risk"
        self.overdue += risk == "overdue"


@dataclass(slots=True)
class Backlog:
    worklists: list[BacklogLine]
    sites: list[BacklogLine]
    total: BacklogLine
    # unread study ids at risk or overdue, most urgent first (for the at-risk list)
    urgent_ids: list[int]


def backlog(*, user: AnyUser, now: dt.datetime | None = None) -> Backlog:
    """Unread studies per worklist and per site: count, work units, oldest, at risk, overdue.

    One pass over the unread studies' deadlines: "at risk" is the Python rule (absolute time left
    and share of turnaround), which SQL would have to restate."""
    return _backlog(scope_of(user), now or timezone.now())


def _backlog(scope: Scope, now: dt.datetime) -> Backlog:
    unread = (
        scope.studies.filter(status__in=UNREAD_STATUSES)
        .order_by()
        .values_list("id", "worklist_id", "site_id", "deadline", "ready_at", "work_units")
    )
    worklists = {w.id: BacklogLine(key=w.code, name=w.name) for w in Worklist.objects.all()}
    unclassified = BacklogLine(key="", name="")
    sites = {s.id: BacklogLine(key=s.code, name=s.name) for s in scope.sites}
    total = BacklogLine(key="", name="")
    urgent: list[tuple[dt.datetime, int]] = []
    for study_id, worklist_id, site_id, deadline, ready_at, units in unread.iterator():
        risk = _risk(deadline, ready_at, now)
        for line in (
            worklists.get(worklist_id, unclassified) if worklist_id else unclassified,
            sites.get(site_id),
            total,
        ):
            if line is not None:
                line.add(units=units, ready_at=ready_at, risk=risk)
        if risk in ("at_risk", "overdue") and deadline is not None:
            urgent.append((deadline, study_id))
    lines = list(worklists.values())
    if unclassified.unread:
        lines.append(unclassified)
    return Backlog(
        worklists=lines,
        sites=[line for line in sites.values() if line.unread]
        + [line for line in sites.values() if not line.unread],
        total=total,
        urgent_ids=[study_id for _deadline, study_id in sorted(urgent)],
    )


# --- studies at risk ---------------------------------------------------------------------------


@dataclass(slots=True)
class AtRiskStudy:
    study: Study
    risk: str
    holder: Radiologist | None
    assigned_at: dt.datetime | None
    opened_at: dt.datetime | None  # when the holder opened it (IN_PROGRESS), if they did

    @property
    def holder_idle_since(self) -> dt.datetime | None:
        return self.holder.last_active_at if self.holder is not None else None


def _opened_at(study_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each study was last opened (its last move to IN_PROGRESS)."""
    return dict(
        StudyEvent.objects.filter(study_id__in=list(study_ids), to_status=StudyStatus.IN_PROGRESS)
        .order_by()
        .values("study_id")
        .annotate(at=Max("at"))
        .values_list("study_id", "at")
    )


def _at_risk(scope: Scope, ids: list[int], now: dt.datetime) -> list[AtRiskStudy]:
    studies = scope.studies.filter(id__in=ids).select_related("site", "worklist")
    by_id = {s.id: s for s in studies}
    held = {
        a.study_id: a
        for a in Assignment.objects.filter(study_id__in=ids, ended_at__isnull=True).select_related(
            "radiologist__user"
        )
    }
    opened = _opened_at(sid for sid, s in by_id.items() if s.status == StudyStatus.IN_PROGRESS)
    rows = []
    for study_id in ids:
        study = by_id.get(study_id)
        if study is None:
            continue
        assignment = held.get(study_id)
        opened_at = opened.get(study_id)
        if assignment is not None and opened_at is not None and opened_at < assignment.assigned_at:
            opened_at = None  # opened under an earlier holder
        rows.append(
            AtRiskStudy(
                study=study,
                risk=study.deadline_risk(now),
                holder=assignment.radiologist if assignment else None,
                assigned_at=assignment.assigned_at if assignment else None,
                opened_at=opened_at,
            )
        )
    return rows


def studies_at_risk(
    *, user: AnyUser, now: dt.datetime | None = None, limit: int | None = None
) -> list[AtRiskStudy]:
    """Unread studies at risk or overdue, least time left first, with holder and opened time."""
    scope = scope_of(user)
    now = now or timezone.now()
    ids = _backlog(scope, now).urgent_ids[: limit or settings.CONSOLE_AT_RISK_LIMIT]
    return _at_risk(scope, ids, now)


# --- the readers' load -------------------------------------------------------------------------


@dataclass(slots=True)
class ReaderLoad:
    radiologist: Radiologist
    on_shift: bool
    shift_started_at: dt.datetime | None  # the earliest start of the shifts running now
    shift_ends_at: dt.datetime | None
    next_shift_at: dt.datetime | None  # the next shift starting within the horizon
    target_work_units: Decimal
    carried_deficit_work_units: Decimal
    done_work_units: Decimal  # signed this shift
    queue_count: int
    queue_work_units: Decimal
    open_study: Study | None
    opened_at: dt.datetime | None
    competences: list[tuple[str, str]] = field(default_factory=list)  # (worklist name, level)
    site_codes: list[str] = field(default_factory=list)

    @property
    def idle_since(self) -> dt.datetime | None:
        return self.radiologist.last_active_at

    @property
    def off_shift_with_queue(self) -> bool:
        """Studies wait in the queue of someone who is not working now."""
        return not self.on_shift and self.queue_count > 0

    @property
    def done_share(self) -> float | None:
        if self.target_work_units <= 0:
            return None
        return float(self.done_work_units / self.target_work_units)


def load_board(*, user: AnyUser, now: dt.datetime | None = None) -> list[ReaderLoad]:
    """Every reader on shift now or starting within CONSOLE_NEXT_SHIFT_HOURS, and every reader
    off shift who still holds studies (flagged first, then on shift, then next)."""
    return _load_board(scope_of(user), now or timezone.now())


def _load_board(scope: Scope, now: dt.datetime) -> list[ReaderLoad]:
    horizon = now + dt.timedelta(hours=settings.CONSOLE_NEXT_SHIFT_HOURS)
    visible = scope.studies

    shifts = list(
        Shift.objects.filter(ends_at__gt=now, starts_at__lte=horizon, radiologist__is_active=True)
        .order_by("starts_at", "id")
        .values_list(
            "radiologist_id",
            "starts_at",
            "ends_at",
            "target_work_units",
            "carried_deficit_work_units",
        )
    )
    queues = {
        row["radiologist_id"]: row
        for row in Assignment.objects.filter(ended_at__isnull=True, study__in=visible)
        .order_by()
        .values("radiologist_id")
        .annotate(count=Count("id"), units=Sum("study__work_units"))
    }
    reader_ids = {s[0] for s in shifts} | set(queues)
    readers = Radiologist.objects.filter(id__in=reader_ids).select_related("user").in_bulk()

    running: dict[int, list[tuple[dt.datetime, dt.datetime, Decimal, Decimal]]] = defaultdict(list)
    upcoming: dict[int, dt.datetime] = {}
    for reader_id, starts_at, ends_at, target, deficit in shifts:
        if starts_at <= now:
            running[reader_id].append((starts_at, ends_at, target, deficit))
        else:
            upcoming.setdefault(reader_id, starts_at)

    # Work done this shift: studies the reader signed since their shift began.
    done: dict[int, Decimal] = defaultdict(lambda: ZERO)
    if running:
        since = min(start for spans in running.values() for start, *_rest in spans)
        starts = {rid: min(s[0] for s in spans) for rid, spans in running.items()}
        for reader_id, ended_at, units in (
            Assignment.objects.filter(
                radiologist_id__in=list(running),
                end_reason="signed",
                ended_at__gte=since,
                ended_at__lte=now,
                study__in=visible,
            )
            .order_by()
            .values_list("radiologist_id", "ended_at", "study__work_units")
        ):
            if ended_at is not None and ended_at >= starts[reader_id]:
                done[reader_id] += units

    # The study each reader has open: held and IN_PROGRESS (the latest opened, if several).
    open_rows = list(
        Assignment.objects.filter(
            radiologist_id__in=list(readers),
            ended_at__isnull=True,
            study__in=visible,
            study__status=StudyStatus.IN_PROGRESS,
        ).select_related("study__site")
    )
    opened = _opened_at(a.study_id for a in open_rows)
    open_study: dict[int, tuple[Study, dt.datetime | None]] = {}
    for a in open_rows:
        at = opened.get(a.study_id)
        current = open_study.get(a.radiologist_id)
        if current is None or (at is not None and (current[1] is None or at > current[1])):
            open_study[a.radiologist_id] = (a.study, at)

    competences: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for reader_id, name, level in (
        Competence.objects.filter(radiologist_id__in=list(readers))
        .order_by("worklist__display_order", "worklist__name")
        .values_list("radiologist_id", "worklist__name", "level")
    ):
        competences[reader_id].append((name, level))
    site_codes: dict[int, list[str]] = defaultdict(list)
    for credential in (
        Credential.objects.filter(radiologist_id__in=list(readers), revoked_at__isnull=True)
        .select_related("site")
        .order_by("site__code")
    ):
        if credential.is_valid_on(now.astimezone(credential.site.zone).date()):
            site_codes[credential.radiologist_id].append(credential.site.code)

    board = []
    for reader_id, reader in readers.items():
        spans = running.get(reader_id, [])
        queue = queues.get(reader_id, {})
        opened_study, opened_at = open_study.get(reader_id, (None, None))
        board.append(
            ReaderLoad(
                radiologist=reader,
                on_shift=bool(spans),
                shift_started_at=min((s[0] for s in spans), default=None),
                shift_ends_at=max((s[1] for s in spans), default=None),
                next_shift_at=upcoming.get(reader_id),
                target_work_units=max((s[2] for s in spans), default=ZERO),
                carried_deficit_work_units=max((s[3] for s in spans), default=ZERO),
                done_work_units=done[reader_id],
                queue_count=queue.get("count", 0),
                queue_work_units=queue.get("units") or ZERO,
                open_study=opened_study,
                opened_at=opened_at,
                competences=competences[reader_id],
                site_codes=site_codes[reader_id],
            )
        )
    board.sort(
        key=lambda r: (
            not r.off_shift_with_queue,
            not r.on_shift,
            r.next_shift_at or r.shift_started_at or now,
            r.radiologist.display_name,
        )
    )
    return board


# --- alerts ------------------------------------------------------------------------------------


# What raised an alert, in a coordinator's words. The kinds are the raising modules' constants
# (written out: worklists does not import reports, dicom or hl7_interface).
ALERT_KIND_LABELS: dict[str, Promise] = {
    "routing.escalation": _("Nobody reading"),
    "report.critical_uncommunicated": _("Critical finding not communicated"),
    "dicom.patient_mismatch": _("Patient mismatch"),
    "hl7.dead_letter": _("Report delivery failed"),
    "patient.records_conflict": _("Patient records disagree"),
    "patient.identifier_refused": _("National number refused"),
}


def alert_kind_label(kind: str) -> str:
    return str(ALERT_KIND_LABELS.get(kind, kind))


def _alerts_visible(scope: Scope) -> QuerySet[CoordinatorAlert]:
    """Alerts about studies the user may see, and alerts about no study at sites they see."""
    return CoordinatorAlert.objects.filter(
        Q(study__in=scope.studies)
        | Q(study__isnull=True, site__in=scope.sites)
        | Q(study__isnull=True, site__isnull=True)
    )


def _awake(now: dt.datetime) -> Q:
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)


# Most urgent first: the study's deadline (time left), then the longest waiting.
URGENCY_ORDER = (F("study__deadline").asc(nulls_last=True), "raised_at", "id")


def open_alerts(
    *, user: AnyUser, now: dt.datetime | None = None, limit: int = 200
) -> list[CoordinatorAlert]:
    """The coordinators' list: open alerts not snoozed (or whose snooze has passed), most
    urgent first."""
    return _open_alerts(scope_of(user), now or timezone.now(), limit)


def _open_alerts(scope: Scope, now: dt.datetime, limit: int = 200) -> list[CoordinatorAlert]:
    return list(
        _alerts_visible(scope)
        .filter(_awake(now), resolved_at__isnull=True)
        .select_related("study__site", "site", "snoozed_by")
        .order_by(*URGENCY_ORDER)[:limit]
    )


def snoozed_alerts(
    *, user: AnyUser, now: dt.datetime | None = None, limit: int = 200
) -> list[CoordinatorAlert]:
    """Open alerts snoozed past ``now``, the first to come back first."""
    return _snoozed_alerts(scope_of(user), now or timezone.now(), limit)


def _snoozed_alerts(scope: Scope, now: dt.datetime, limit: int = 200) -> list[CoordinatorAlert]:
    return list(
        _alerts_visible(scope)
        .filter(resolved_at__isnull=True, snoozed_until__gt=now)
        .select_related("study__site", "site", "snoozed_by")
        .order_by("snoozed_until", "id")[:limit]
    )


def open_alert_count(*, user: AnyUser, now: dt.datetime | None = None) -> int:
    """How many alerts are on the coordinators' list (the worklist page's link to the console)."""
    now = now or timezone.now()
    return _alerts_visible(scope_of(user)).filter(_awake(now), resolved_at__isnull=True).count()


def alert_get(*, user: AnyUser, alert_id: int) -> CoordinatorAlert:
    """One alert the coordinator may see (AlertNotFound otherwise)."""
    alert = (
        _alerts_visible(scope_of(user)).select_related("study__site", "site").filter(pk=alert_id)
    ).first()
    if alert is None:
        raise AlertNotFound(gettext("No such alert."))
    return alert


# --- the whole console -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert: CoordinatorAlert
    risk: str  # of the alert's study: the row's colour


@dataclass(slots=True)
class Console:
    now: dt.datetime
    backlog: Backlog
    at_risk: list[AtRiskStudy]
    load: list[ReaderLoad]
    alerts: list[CoordinatorAlert]
    snoozed: list[CoordinatorAlert]

    @property
    def next_wake(self) -> dt.datetime | None:
        """When the first snoozed alert comes back (the page refreshes itself then)."""
        return min((a.snoozed_until for a in self.snoozed if a.snoozed_until), default=None)

    @property
    def alert_rows(self) -> list[AlertRow]:
        return [
            AlertRow(alert=a, risk=a.study.deadline_risk(self.now) if a.study else "")
            for a in self.alerts
        ]

    def studies_shown(self) -> list[Study]:
        """Every study the console names, for the audit trail."""
        shown: dict[int, Study] = {}
        for row in self.at_risk:
            shown[row.study.id] = row.study
        for reader in self.load:
            if reader.open_study is not None:
                shown[reader.open_study.id] = reader.open_study
        for alert in (*self.alerts, *self.snoozed):
            if alert.study is not None:
                shown[alert.study.id] = alert.study
        return list(shown.values())


def console(*, user: AnyUser, now: dt.datetime | None = None) -> Console:
    scope = scope_of(user)
    now = now or timezone.now()
    summary = _backlog(scope, now)
    return Console(
        now=now,
        backlog=summary,
        at_risk=_at_risk(scope, summary.urgent_ids[: settings.CONSOLE_AT_RISK_LIMIT], now),
        load=_load_board(scope, now),
        alerts=_open_alerts(scope, now),
        snoozed=_snoozed_alerts(scope, now),
    )


__all__ = [
    "AtRiskStudy",
    "Backlog",
    "BacklogLine",
    "Console",
    "ReaderLoad",
    "alert_get",
    "backlog",
    "console",
    "load_board",
    "open_alert_count",
    "open_alerts",
    "snoozed_alerts",
    "studies_at_risk",
]
