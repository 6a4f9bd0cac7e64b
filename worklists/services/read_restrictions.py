"""Restricting who may be given a study (worklists.models.ReadRestriction): what an adapter
asks of routing when a study must go to someone else than its earlier readers, or only to
some readers (double reading: the second read, the arbitration).

The caller owns the transaction and has locked the study (transitions.lock_study)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from worklists.models import ReadRestriction, Study

__all__ = ["read_restrictions_set_locked"]


def read_restrictions_set_locked(
    *,
    study: Study,
    excluded_reader_ids: Iterable[int] = (),
    excluded_site_ids: Iterable[int] = (),
    reserved_for_ids: Iterable[int] = (),
    reason: str,
    at: dt.datetime,
) -> list[ReadRestriction]:
    """From now on, route ``study`` to nobody in ``excluded_reader_ids`` and nobody working for
    ``excluded_site_ids``; and, unless empty, only to ``reserved_for_ids``. Replaces the study's
    restrictions (all empty: none, the routing rules alone decide)."""
    ReadRestriction.objects.filter(study=study).delete()
    kind = ReadRestriction.Kind
    why = reason[:200]
    rows = (
        [
            ReadRestriction(
                study=study, kind=kind.EXCLUDE, radiologist_id=r, reason=why, created_at=at
            )
            for r in sorted(set(excluded_reader_ids))
        ]
        + [
            ReadRestriction(study=study, kind=kind.EXCLUDE, site_id=s, reason=why, created_at=at)
            for s in sorted(set(excluded_site_ids))
        ]
        + [
            ReadRestriction(
                study=study, kind=kind.RESERVE, radiologist_id=r, reason=why, created_at=at
            )
            for r in sorted(set(reserved_for_ids))
        ]
    )
    ReadRestriction.objects.bulk_create(rows)
    if study.has_read_restrictions != bool(rows):
        study.has_read_restrictions = bool(rows)
        study.save(update_fields=["has_read_restrictions", "updated_at"])
    return rows
