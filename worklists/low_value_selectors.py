"""The low-value indicator: referrals flagged at intake, and how many of them were returned.

Counted from events only (docs/indicators.md, docs/low-value-referrals.md): a flag is the
StudyEvent whose data has the key ``low_value_rule`` (worklists.services.low_value); a return is
the study's move to REJECTED at or after its flag, whenever that came. One statement,
``low_value_counts_by_rule``, defines the figures; the per-site counts and the indicators' table
(indicators.selectors) both read it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.fields.json import KT

from worklists.access import AnyUser, studies_of_sites, visible_site_ids
from worklists.models import Site, StudyEvent, StudyStatus
from worklists.services.low_value import FLAG_EVENT_KEY


@dataclass(frozen=True, slots=True)
class LowValueCount:
    site_id: int
    site_code: str
    site_name: str
    flagged: int
    returned: int

    @property
    def returned_share(self) -> float | None:
        return self.returned / self.flagged if self.flagged else None


@dataclass(frozen=True, slots=True)
class LowValueRuleCount:
    """One site's studies flagged by one rule (its id and name as the flag event recorded them)."""

    site_id: int
    rule_id: int | None
    rule_name: str
    flagged: int
    returned: int


def low_value_counts_by_rule(
    *, site_ids: Collection[int] | None, starts: dt.datetime, ends: dt.datetime
) -> list[LowValueRuleCount]:
    """Per site of ``site_ids`` (None: every site) and rule: the studies flagged in [``starts``,
    ``ends``) and how many of those had their referral returned at or after the flag. Only the
    (site, rule) pairs with a flag in the period. One grouped statement."""
    if starts.tzinfo is None or ends.tzinfo is None:
        raise ValueError("the period must be timezone-aware")
    returned_after = StudyEvent.objects.filter(
        study_id=OuterRef("study_id"), to_status=StudyStatus.REJECTED, at__gte=OuterRef("at")
    )
    rows = (
        StudyEvent.objects.filter(
            study__in=studies_of_sites(None if site_ids is None else set(site_ids)),
            data__has_key=FLAG_EVENT_KEY,
            at__gte=starts,
            at__lt=ends,
        )
        .annotate(was_returned=Exists(returned_after))
        .order_by()
        .values(
            "study__site_id",
            rule_id=KT(f"data__{FLAG_EVENT_KEY}__id"),
            rule_name=KT(f"data__{FLAG_EVENT_KEY}__name"),
        )
        .annotate(
            flagged=Count("study_id", distinct=True),
            returned=Count("study_id", distinct=True, filter=Q(was_returned=True)),
        )
    )
    return [
        LowValueRuleCount(
            site_id=row["study__site_id"],
            rule_id=None if row["rule_id"] is None else int(row["rule_id"]),
            rule_name=row["rule_name"] or "",
            flagged=row["flagged"],
            returned=row["returned"],
        )
        for row in rows
    ]


def low_value_counts(
    *, user: AnyUser, starts: dt.datetime, ends: dt.datetime
) -> list[LowValueCount]:
    """Per site the user may see: the studies flagged in [``starts``, ``ends``) and how many of
    those had their referral returned after the flag (the rules' counts added up: a study is
    flagged once, by one rule). Sites without a flag count zero."""
    site_ids = visible_site_ids(user)
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(id__in=site_ids)
    counts: dict[int, tuple[int, int]] = {}
    for row in low_value_counts_by_rule(site_ids=site_ids, starts=starts, ends=ends):
        flagged, returned = counts.get(row.site_id, (0, 0))
        counts[row.site_id] = (flagged + row.flagged, returned + row.returned)
    return [
        LowValueCount(
            site_id=site.id,
            site_code=site.code,
            site_name=site.name,
            flagged=counts.get(site.id, (0, 0))[0],
            returned=counts.get(site.id, (0, 0))[1],
        )
        for site in sites.order_by("code")
    ]
