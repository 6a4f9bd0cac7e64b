"""The coordinator's scope for one console page or API call, and the small rules the console's
selectors share (the risk rule on values, when studies were opened)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, QuerySet

from worklists.access import AnyUser, studies_of_sites, visible_site_ids
from worklists.classification import deadline_risk
from worklists.models import Site, Study, StudyEvent, StudyStatus
from worklists.services.alerts import require_coordinator

ZERO = Decimal("0")


def risk_of(deadline: dt.datetime | None, ready_at: dt.datetime | None, now: dt.datetime) -> str:
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


def opened_at_of(study_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each study was last opened (its last move to IN_PROGRESS)."""
    return dict(
        StudyEvent.objects.filter(study_id__in=list(study_ids), to_status=StudyStatus.IN_PROGRESS)
        .order_by()
        .values("study_id")
        .annotate(at=Max("at"))
        .values_list("study_id", "at")
    )
