"""Reads of the site portal. Studies come through the scoping function (access.studies_of_sites
for the user's visible sites), narrowed to the one site whose portal is open."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

from django.db.models import Count, F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.utils.translation import gettext as _

from hl7_interface.models import OutboundMessage
from reports.models import ReferralRejection, ReportVersion
from reports.portal.states import (
    LABELS,
    STATUSES,
    DeliverySummary,
    MessageFacts,
    PortalState,
    ReportSummary,
    VersionFacts,
    delivery_summary,
    report_summary,
    state_of,
)
from worklists.access import (
    AnyUser,
    identifiers_visible,
    is_coordinator,
    radiologist_of,
    studies_of_sites,
    visible_site_ids,
)
from worklists.errors import InvalidInput, NotFound, NotPermitted
from worklists.models import (
    PatientIdentifier,
    PatientRecord,
    Site,
    SiteMembership,
    Study,
)
from worklists.models.patients import Demographics

# The default period of the list and the CSV: the last week, today included (site-local).
DEFAULT_PERIOD_DAYS = 7
# Longer periods are for the CSV; the page shows this many rows and a link to the next ones.
PAGE_SIZE = 100
CSV_CHUNK = 500


class NotASiteUser(NotPermitted):
    """Radiologists read from the worklist; the portal is a site's and the coordinators'."""


class InvalidPortalCursor(InvalidInput):
    default_field = "cursor"


@dataclasses.dataclass(frozen=True, slots=True)
class PortalAccess:
    """Who opened the portal and for which site (None: a coordinator who has not chosen)."""

    site: Site | None
    site_ids: set[int] | None  # access.visible_site_ids of the user
    is_coordinator: bool

    def studies(self) -> QuerySet[Study]:
        """The open site's studies (a coordinator who chose none: every site's), through the
        scoping function."""
        visible = studies_of_sites(self.site_ids)
        return visible if self.site is None else visible.filter(site_id=self.site.id)


def portal_access(*, user: AnyUser, site_code: str = "") -> PortalAccess:
    """A site's own staff open their site's portal; a coordinator any site's (``site_code``);
    anyone else is refused. A site user naming another site is refused too."""
    site_ids = visible_site_ids(user)
    coordinator = site_ids is None and is_coordinator(user)
    if coordinator:
        if not site_code:
            return PortalAccess(site=None, site_ids=site_ids, is_coordinator=True)
        site = Site.objects.filter(code=site_code).first()
        if site is None:
            raise NotFound(_("No site with the code %(code)s.") % {"code": site_code}, field="site")
        return PortalAccess(site=site, site_ids=site_ids, is_coordinator=True)
    membership = (
        SiteMembership.objects.filter(user_id=user.pk).select_related("site").first()
        if user.is_authenticated
        else None
    )
    if membership is None or site_ids is None or membership.site_id not in site_ids:
        raise NotASiteUser(
            _(
                "The site portal is for a site's own staff and for coordinators. Radiologists "
                "find their studies on the worklist."
            )
        )
    if site_code and site_code != membership.site.code:
        raise NotASiteUser(_("You see your own site's studies only."), field="site")
    return PortalAccess(site=membership.site, site_ids=site_ids, is_coordinator=False)


def is_site_user(user: AnyUser) -> bool:
    """Works for a site and neither reads nor coordinates: the portal is their home page."""
    if not user.is_authenticated:
        return False
    return (
        SiteMembership.objects.filter(user_id=user.pk).exists()
        and radiologist_of(user) is None
        and not is_coordinator(user)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Cursor:
    """A keyset position in the portal's order: newest order first (ordered_at, id descending)."""

    ordered_at: dt.datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.ordered_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at, _sep, number = raw.partition("|")
            cursor = cls(ordered_at=dt.datetime.fromisoformat(at), id=int(number))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidPortalCursor(_("The cursor is not one this server handed out.")) from exc
        if cursor.ordered_at.tzinfo is None:
            raise InvalidPortalCursor(_("The cursor is not one this server handed out."))
        return cursor


@dataclasses.dataclass(frozen=True, slots=True)
class PortalFilters:
    """What the list shows: a state (None: all), a period of order dates on the site's calendar
    (both ends included; None: open-ended), an exact accession number or patient identifier."""

    state: PortalState | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""

    def without_state(self) -> PortalFilters:
        return dataclasses.replace(self, state=None)


def default_period(*, site: Site, now: dt.datetime) -> tuple[dt.date, dt.date]:
    today = now.astimezone(site.zone).date()
    return today - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1), today


def _filtered(studies: QuerySet[Study], *, site: Site, filters: PortalFilters) -> QuerySet[Study]:
    if filters.state is not None:
        studies = studies.filter(status__in=STATUSES[filters.state])
    zone = site.zone
    if filters.date_from is not None:
        start = dt.datetime.combine(filters.date_from, dt.time.min, tzinfo=zone)
        studies = studies.filter(ordered_at__gte=start)
    if filters.date_to is not None:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        studies = studies.filter(ordered_at__lt=end)
    if filters.q:
        studies = studies.filter(_search(site=site, q=filters.q))
    return studies


def _search(*, site: Site, q: str) -> Q:
    """Exactly this accession number, or a patient with exactly this identifier among those the
    site may see (national numbers and its own record numbers: never another hospital's)."""
    compact = "".join(q.split())
    holders = PatientIdentifier.objects.filter(identifiers_visible({site.id}), value=compact)
    return Q(accession_number=q.strip()) | Q(patient_id__in=holders.values("patient_id"))


def portal_counts(*, access: PortalAccess, filters: PortalFilters) -> dict[PortalState, int]:
    """How many of the site's studies each state has under ``filters`` (its state aside): one
    query."""
    assert access.site is not None
    rows = (
        _filtered(access.studies(), site=access.site, filters=filters.without_state())
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
    )
    counts = dict.fromkeys(PortalState, 0)
    for row in rows:
        counts[state_of(row["status"])] += row["n"]
    return counts


@dataclasses.dataclass(frozen=True, slots=True)
class PortalRow:
    study: Study
    state: PortalState
    patient: Demographics
    identifiers: list[PatientIdentifier]
    report: ReportSummary
    delivery: DeliverySummary
    rejection: ReferralRejection | None

    @property
    def state_label(self) -> str:
        return str(LABELS[self.state])


def portal_rows(
    *, access: PortalAccess, filters: PortalFilters, cursor: Cursor | None = None, limit: int
) -> tuple[list[PortalRow], Cursor | None]:
    """Up to ``limit`` rows after ``cursor``, newest order first, and the next page's cursor.
    A constant number of queries, however many rows."""
    assert access.site is not None
    studies = _filtered(access.studies(), site=access.site, filters=filters)
    if cursor is not None:
        studies = studies.filter(
            TupleLessThan(Tuple(F("ordered_at"), F("id")), (cursor.ordered_at, cursor.id))
        )
    page = list(
        studies.select_related("site", "patient").order_by("-ordered_at", "-id")[: limit + 1]
    )
    following = None
    if len(page) > limit:
        page = page[:limit]
        following = Cursor(ordered_at=page[-1].ordered_at, id=page[-1].id)
    return rows_of(page, site_id=access.site.id), following


def all_rows(*, access: PortalAccess, filters: PortalFilters) -> Iterator[PortalRow]:
    """Every row under ``filters``, read a chunk at a time (the CSV)."""
    cursor = None
    while True:
        rows, cursor = portal_rows(access=access, filters=filters, cursor=cursor, limit=CSV_CHUNK)
        yield from rows
        if cursor is None:
            return


def rows_of(studies: list[Study], *, site_id: int) -> list[PortalRow]:
    """The portal's rows of ``studies`` (already scoped, with site and patient): identifiers,
    demographics, reports, deliveries and returned referrals, one query each."""
    ids = [s.id for s in studies]
    if not ids:
        return []
    identifiers: dict[int, list[PatientIdentifier]] = defaultdict(list)
    for identifier in PatientIdentifier.objects.filter(
        identifiers_visible({site_id}), patient_id__in={s.patient_id for s in studies}
    ).order_by("kind", "id"):
        identifiers[identifier.patient_id].append(identifier)
    versions: dict[int, list[VersionFacts]] = defaultdict(list)
    for study_id, number, kind, signed_at, signer_name in ReportVersion.objects.filter(
        study_id__in=ids
    ).values_list("study_id", "number", "kind", "signed_at", "signer_name"):
        versions[study_id].append(VersionFacts(number, kind, signed_at, signer_name))
    messages: dict[int, list[MessageFacts]] = defaultdict(list)
    for message in (
        OutboundMessage.objects.filter(study_id__in=ids)
        .only(
            "study_id",
            "status",
            "result_status",
            "attempts",
            "last_error",
            "ack_code",
            "delivered_at",
            "last_attempt_at",
        )
        .order_by("id")
    ):
        messages[message.study_id].append(
            MessageFacts(
                id=message.id,
                status=message.status,
                result_status=message.result_status,
                attempts=message.attempts,
                last_error=message.last_error,
                ack_code=message.ack_code,
                delivered_at=message.delivered_at,
                last_attempt_at=message.last_attempt_at,
            )
        )
    rejections = {r.study_id: r for r in ReferralRejection.objects.filter(study_id__in=ids)}
    shown = _demographics(studies, site_id=site_id)
    return [
        PortalRow(
            study=study,
            state=state_of(study.status),
            patient=shown[study.id],
            identifiers=identifiers[study.patient_id],
            report=report_summary(versions[study.id]),
            delivery=delivery_summary(messages[study.id]),
            rejection=rejections.get(study.id),
        )
        for study in studies
    ]


def _demographics(studies: list[Study], *, site_id: int) -> dict[int, Demographics]:
    """Study.shown_patient for every study, in one query for the patients whose records differ
    (none for the others): the national register's record, else the site's own, else the
    patient row."""
    differing = {s.patient_id for s in studies if s.patient.records_differ}
    records: dict[tuple[int, bool], PatientRecord] = {}
    if differing:
        for record in PatientRecord.objects.filter(patient_id__in=differing).filter(
            Q(source=PatientRecord.Source.REGISTER) | Q(site_id=site_id)
        ):
            records[(record.patient_id, record.source == PatientRecord.Source.REGISTER)] = record
    shown: dict[int, Demographics] = {}
    for study in studies:
        patient = study.patient
        shown[study.id] = (
            records.get((patient.id, True)) or records.get((patient.id, False)) or patient
            if patient.id in differing
            else patient
        )
    return shown
