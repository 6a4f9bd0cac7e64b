"""The rows a batch of orders (an HL7 batch) will change, locked at the start of its
transaction in one round trip: its studies, then its patients' identifiers.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from worklists.models import Study
from worklists.services.patient_identifiers import IdentifierLocks, Keyed


class AccessionLocks:
    """The studies of a batch's (site, accession number) pairs, locked in one statement at the
    start of the batch's transaction (in id order, so two batches lock alike), so each order
    skips its own lock query. Orders of the batch that create a study record it here.

    A study created by another transaction after this snapshot is not missed: its unique
    (site, accession number) makes our INSERT fail and the batch run again.
    """

    def __init__(self, wanted: Iterable[tuple[int, str]], rows: list[tuple[Any, ...]]) -> None:
        self._known: dict[tuple[int, str], int | None] = dict.fromkeys(wanted)
        for study_id, site_id, accession in rows:
            self._known[(site_id, accession)] = study_id

    @staticmethod
    def rows(wanted: Sequence[tuple[int, str]]) -> list[tuple[Any, ...]]:
        """The studies of ``wanted`` (site id, accession number), locked in id order."""
        if not wanted:
            return []
        matches = functools.reduce(
            operator.or_,
            (Q(site_id=site_id, accession_number=accession) for site_id, accession in wanted),
        )
        return list(
            Study.objects.select_for_update()
            .filter(matches)
            .order_by("id")
            .values_list("id", "site_id", "accession_number")
        )

    def knows(self, key: tuple[int, str]) -> bool:
        return key in self._known

    def study_id(self, key: tuple[int, str]) -> int | None:
        return self._known[key]

    def created(self, key: tuple[int, str], study_id: int) -> None:
        self._known[key] = study_id


@dataclass(frozen=True, slots=True)
class OrderLocks:
    """What a batch of messages will change, locked at the start of its transaction in one
    round trip, in the lock order of patients.py: the studies of its accession numbers (by
    id), then the identifiers that name its patients (by id)."""

    accessions: AccessionLocks
    identifiers: IdentifierLocks

    @classmethod
    def lock(
        cls, *, accessions: Iterable[tuple[int, str]], identifiers: Iterable[Keyed]
    ) -> OrderLocks:
        wanted_accessions = sorted(set(accessions))
        wanted_identifiers = sorted(set(identifiers))
        # studies first, then identifiers: the lock order of patients.py
        return cls(
            accessions=AccessionLocks(wanted_accessions, AccessionLocks.rows(wanted_accessions)),
            identifiers=IdentifierLocks(
                wanted_identifiers, IdentifierLocks.rows(wanted_identifiers)
            ),
        )
