"""The low-value indicator: referrals flagged at intake, and how many of them were returned.

Counted from events only (docs/low-value-referrals.md): a flag is the StudyEvent whose data has
the key ``low_value_rule`` (worklists.services.low_value); a return is the study's move to
REJECTED at or after its flag, whenever that came.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q

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


def low_value_counts(
    *, user: AnyUser, starts: dt.datetime, ends: dt.datetime
) -> list[LowValueCount]:
    """Per site the user may see: the studies flagged in [``starts``, ``ends``) and how many of
    those had their referral returned after the flag. Sites without a flag count zero."""
    if starts.tzinfo is None or ends.tzinfo is None:
        raise ValueError("the period must be timezone-aware")
    site_ids = visible_site_ids(user)
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(id__in=site_ids)
    returned_after = StudyEvent.objects.filter(
        study_id=OuterRef("study_id"), to_status=StudyStatus.REJECTED, at__gte=OuterRef("at")
    )
    rows = (
        StudyEvent.objects.filter(
            study__in=studies_of_sites(site_ids),
            data__has_key=FLAG_EVENT_KEY,
            at__gte=starts,
            at__lt=ends,
        )
        .annotate(was_returned=Exists(returned_after))
        .order_by()
        .values("study__site_id")
        .annotate(
            flagged=Count("study_id", distinct=True),
            returned=Count("study_id", distinct=True, filter=Q(was_returned=True)),
        )
    )
    counts = {row["study__site_id"]: (row["flagged"], row["returned"]) for row in rows}
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
