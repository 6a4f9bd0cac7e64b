"""Whose figures a viewer may see: the sites (worklists.access, the one scoping rule) and the
per-reader rows (a coordinator every reader's, a radiologist their own, anyone else none)."""

from __future__ import annotations

import dataclasses

from django.db.models import Q, QuerySet

from worklists.access import AnyUser, is_coordinator, radiologist_of, visible_site_ids
from worklists.access import studies_of_sites as scoped_studies
from worklists.models import Study


@dataclasses.dataclass(frozen=True, slots=True)
class Viewer:
    site_ids: frozenset[int] | None  # None: every site
    coordinator: bool
    radiologist_id: int | None

    @property
    def sees_readers(self) -> bool:
        """Whether any per-reader row may be shown (a coordinator's, or a reader's own)."""
        return self.coordinator or self.radiologist_id is not None

    def studies(self) -> QuerySet[Study]:
        return scoped_studies(None if self.site_ids is None else set(self.site_ids))

    def sites_q(self, path: str = "study__") -> Q:
        """The rows of the viewer's sites, ``path`` leading from the row to a study."""
        if self.site_ids is None:
            return Q()
        return Q(**{f"{path}site_id__in": self.site_ids})

    def readers_q(self, field: str) -> Q:
        """The per-reader rows the viewer may see, ``field`` naming the reader's id."""
        if self.coordinator:
            return Q()
        if self.radiologist_id is None:
            return Q(pk__in=[])
        return Q(**{field: self.radiologist_id})

    def may_see_reader(self, radiologist_id: int | None) -> bool:
        return self.coordinator or (
            radiologist_id is not None and radiologist_id == self.radiologist_id
        )


def viewer_of(user: AnyUser) -> Viewer:
    site_ids = visible_site_ids(user)
    coordinator = site_ids is None or is_coordinator(user)
    radiologist = None if coordinator else radiologist_of(user)
    return Viewer(
        site_ids=None if site_ids is None else frozenset(site_ids),
        coordinator=coordinator,
        radiologist_id=radiologist.id if radiologist else None,
    )
