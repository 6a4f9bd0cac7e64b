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
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from worklists.access import AnyUser
from worklists.console.load_board import ReaderLoad, board_of, load_board
from worklists.console.scope import ZERO, Scope, opened_at_of, risk_of, scope_of
from worklists.console.surges import ConsoleSurges, surges_board
from worklists.models import (
    UNREAD_STATUSES,
    Assignment,
    CoordinatorAlert,
    Radiologist,
    Study,
    StudyStatus,
    Worklist,
)
from worklists.services.alerts import AlertNotFound

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
        risk = risk_of(deadline, ready_at, now)
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


def _at_risk(scope: Scope, ids: list[int], now: dt.datetime) -> list[AtRiskStudy]:
    studies = scope.studies.filter(id__in=ids).select_related("site", "worklist")
    by_id = {s.id: s for s in studies}
    held = {
        a.study_id: a
        for a in Assignment.objects.filter(study_id__in=ids, ended_at__isnull=True).select_related(
            "radiologist__user"
        )
    }
    opened = opened_at_of(sid for sid, s in by_id.items() if s.status == StudyStatus.IN_PROGRESS)
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
    "quality.discrepancy": _("Peer review: significant discrepancy"),
    "quality.review_overdue": _("Peer review overdue"),
}


def alert_kind_label(kind: str) -> str:
    return str(ALERT_KIND_LABELS.get(kind, kind))


# The demographics a records conflict names (worklists.services.patient_records.DEMOGRAPHICS).
DEMOGRAPHIC_LABELS: dict[str, Promise] = {
    "family_name": _("family name"),
    "given_name": _("given name"),
    "birth_date": _("birth date"),
    "sex": _("sex"),
}


def alert_message_shown(alert: CoordinatorAlert) -> str:
    """An alert's message in the page's language, from its kind and data where they say it all;
    otherwise the message as raised (an adapter's own words, a peer's error text)."""
    data = alert.data or {}
    if alert.kind == "patient.records_conflict" and data.get("fields"):
        fields = ", ".join(str(DEMOGRAPHIC_LABELS.get(f, f)) for f in data["fields"])
        return gettext(
            "The sites' records of this patient differ in %(fields)s (%(sites)s). Each site's "
            "studies show its own record until it is corrected at the site that is wrong."
        ) % {
            "fields": fields,
            "sites": ", ".join(
                gettext("national register") if name == "national register" else name
                for name in data.get("sites", [])
            ),
        }
    if alert.kind == "patient.identifier_refused" and data.get("site"):
        return gettext(
            "%(site)s named a new national number for this patient, whom other sites also "
            "know; it was not added. A coordinator checks and merges if right."
        ) % {"site": data["site"]}
    if alert.kind == "routing.escalation":
        return gettext("Deadline near and nobody is reading this study: assign a reader.")
    if alert.kind == "quality.discrepancy" and data.get("score"):
        return gettext(
            "A peer review scored the signed report %(score)s, a significant discrepancy. The "
            "author is told and may add an addendum."
        ) % {"score": data["score"]}
    if alert.kind == "quality.review_overdue" and data.get("deadline"):
        deadline = dt.datetime.fromisoformat(data["deadline"])
        shown = formats.date_format(timezone.localtime(deadline), "SHORT_DATETIME_FORMAT")
        if data.get("waiting_for_reviewer"):
            return gettext(
                "A peer review of this study is past its deadline (%(deadline)s) and nobody "
                "is eligible to review it: assign a reviewer."
            ) % {"deadline": shown}
        return gettext(
            "A peer review of this study is past its deadline (%(deadline)s): remind the "
            "reviewer or reassign the review."
        ) % {"deadline": shown}
    return alert.message


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


# --- unclassified studies -----------------------------------------------------------------------


# The console lists the first few; the worklist's unclassified filter has them all.
UNCLASSIFIED_SHOWN = 10


def _unclassified(scope: Scope, limit: int) -> tuple[list[Study], int]:
    """Unread studies no classification rule matched (read from the general worklist), least
    time left first, and how many there are."""
    unread = scope.studies.filter(is_unclassified=True, status__in=UNREAD_STATUSES)
    shown = list(
        unread.select_related("site", "worklist").order_by(
            F("deadline").asc(nulls_last=True), "id"
        )[:limit]
    )
    return shown, (len(shown) if len(shown) < limit else unread.count())


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
    unclassified: list[Study]
    unclassified_count: int
    surges: ConsoleSurges

    @property
    def next_wake(self) -> dt.datetime | None:
        """When the first snoozed alert comes back or the first surge runs out (the page
        refreshes itself then)."""
        wakes = [a.snoozed_until for a in self.snoozed if a.snoozed_until]
        return min([*wakes, *filter(None, [self.surges.first_end])], default=None)

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
        for study in self.unclassified:
            shown[study.id] = study
        return list(shown.values())


def console(*, user: AnyUser, now: dt.datetime | None = None) -> Console:
    scope = scope_of(user)
    now = now or timezone.now()
    summary = _backlog(scope, now)
    unclassified, unclassified_count = _unclassified(scope, UNCLASSIFIED_SHOWN)
    return Console(
        now=now,
        backlog=summary,
        at_risk=_at_risk(scope, summary.urgent_ids[: settings.CONSOLE_AT_RISK_LIMIT], now),
        load=board_of(scope, now),
        alerts=_open_alerts(scope, now),
        snoozed=_snoozed_alerts(scope, now),
        unclassified=unclassified,
        unclassified_count=unclassified_count,
        surges=surges_board(now=now),
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
