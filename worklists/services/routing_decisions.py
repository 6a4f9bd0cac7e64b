"""What a routing decision is made from: the policy, the sites whose coverage is closed, a
reader's pull scope and a study's facts (worklists.routing decides; routing.py pushes)."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings

from worklists import coverage, routing
from worklists.models import CoverageWindow, ReaderFactsVersion, ReadRestriction, Study
from worklists.services.routing_loads import load_readers
from worklists.services.surges import surge_facts


def routing_policy() -> routing.Policy:
    idle = settings.ROUTING_PUSH_IDLE_MINUTES
    return routing.Policy(
        queue_cap_work_units=Decimal(str(settings.ROUTING_QUEUE_CAP_WORK_UNITS)),
        push_idle_after=dt.timedelta(minutes=idle) if idle > 0 else None,
    )


# Coverage changes at minute boundaries (and per day for holidays): one computation per minute
# per process is enough, and keeps "read next" to one statement. Derived from the database, so
# nothing another process needs lives only here.
_coverage_cache: dict[str, object] = {}


def uncovered_site_ids(*, now: dt.datetime) -> frozenset[int]:
    """Sites whose coverage window is closed now: their studies stay with their own readers."""
    minute = now.replace(second=0, microsecond=0).isoformat()
    cached = _coverage_cache.get("minute")
    if cached == minute:
        result = _coverage_cache["ids"]
        assert isinstance(result, frozenset)
        return result
    windows: dict[tuple[int, str], list[coverage.Window]] = defaultdict(list)
    for row in CoverageWindow.objects.values("site_id", "site__time_zone", "day", "starts", "ends"):
        windows[(row["site_id"], row["site__time_zone"])].append(
            coverage.Window(day=row["day"], starts=row["starts"], ends=row["ends"])
        )
    ids = frozenset(
        site_id
        for (site_id, zone), site_windows in windows.items()
        if not coverage.is_covered(site_windows, time_zone=zone, at=now)
    )
    _coverage_cache.update(minute=minute, ids=ids)
    return ids


@dataclass(frozen=True, slots=True)
class PullScope:
    """A reader's pull scope, with what tells whether it still holds: the count of changes to
    their facts it was built at (ReaderFactsVersion) and the moment the clock changes them."""

    scope: routing.Scope
    facts_version: int
    valid_until: dt.datetime | None
    cached: bool = False

    def holds_at(self, now: dt.datetime) -> bool:
        return self.valid_until is None or now < self.valid_until


# What a reader may pull (worklist and site pairs per tier, modalities), derived from their
# shifts, competences, credentials and the coverage windows. Cached per process for a short while
# because "read next" must stay one statement. A cached scope is used only until the clock
# changes the reader's facts (a shift ends, a credential's last day ends); the claim statement
# claims nothing if any of them was edited since (ReaderFactsVersion), and the claim then tries
# once more with a fresh scope. Coverage windows are re-read after the cache time.
_scope_cache: dict[int, tuple[float, PullScope]] = {}


def reader_pull_scope(*, radiologist_id: int, now: dt.datetime, fresh: bool = False) -> PullScope:
    """The reader's pull scope now, from this process's cache unless ``fresh``."""
    if fresh:
        # whatever was cached is known to be stale: it must not outlive an empty rebuild
        _scope_cache.pop(radiologist_id, None)
    else:
        cached = _scope_cache.get(radiologist_id)
        if cached is not None and cached[0] > time.monotonic() and cached[1].holds_at(now):
            return cached[1]
    # Counted before the facts are read: an edit in between makes the claim refuse, never the
    # scope outlive the edit.
    facts_version = (
        ReaderFactsVersion.objects.filter(radiologist_id=radiologist_id)
        .values_list("version", flat=True)
        .first()
    ) or 0
    readers = load_readers(now=now, radiologist_ids=[radiologist_id])
    if not readers:
        nothing = routing.Scope(modalities=frozenset(), pairs_by_tier=(frozenset(),) * 3)
        return PullScope(scope=nothing, facts_version=facts_version, valid_until=None)
    reader = readers[0]
    site_ids = {c.site_id for c in reader.credentials}
    uncovered = uncovered_site_ids(now=now)
    pull_scope = PullScope(
        scope=routing.reader_scope(
            reader, now=now, site_ids=site_ids, covered_site_ids=frozenset(site_ids - uncovered)
        ),
        facts_version=facts_version,
        valid_until=routing.facts_change_by_clock(reader, now=now),
    )
    if not pull_scope.scope.is_empty:
        _scope_cache[radiologist_id] = (
            time.monotonic() + settings.ROUTING_SCOPE_CACHE_SECONDS,
            replace(pull_scope, cached=True),  # as later calls get it
        )
    return pull_scope


def study_facts(
    study: Study, *, now: dt.datetime, uncovered: frozenset[int], surge_tier: int
) -> routing.StudyFacts:
    """The study as routing sees it; ``surge_tier``: of the surges running for its worklist
    (routing.running_surge_tier, or services.surges.surge_tier_of_worklist read with it)."""
    assert study.worklist_id is not None
    excluded_readers: frozenset[int] = frozenset()
    excluded_sites: frozenset[int] = frozenset()
    reserved_for: frozenset[int] = frozenset()
    if study.has_read_restrictions:
        # only the (few) studies with restrictions pay for this query
        rows = list(
            ReadRestriction.objects.filter(study_id=study.id).values_list(
                "kind", "radiologist_id", "site_id"
            )
        )
        excluded_readers = frozenset(
            r for k, r, _ in rows if k == ReadRestriction.Kind.EXCLUDE and r is not None
        )
        excluded_sites = frozenset(s for _, _, s in rows if s is not None)
        reserved_for = frozenset(
            r for k, r, _ in rows if k == ReadRestriction.Kind.RESERVE and r is not None
        )
    return routing.StudyFacts(
        id=study.id,
        site_id=study.site_id,
        worklist_id=study.worklist_id,
        modality=study.modality,
        priority=study.priority,
        routing_rank=study.routing_rank,
        deadline=study.deadline,
        ready_at=study.ready_at,
        patient_id=study.patient_id,
        work_units=study.work_units,
        site_covered=study.site_id not in uncovered,
        is_critical=study.routing_rank == 0,
        escalation_tier=study.escalation_tier,
        surge_tier=surge_tier,
        excluded_reader_ids=excluded_readers,
        excluded_site_ids=excluded_sites,
        reserved_for_ids=reserved_for,
    )


def coordinator_verdicts(
    study: Study, radiologist_ids: list[int], *, now: dt.datetime
) -> dict[int, routing.Candidate | routing.Exclusion]:
    """The routing rules' verdict on each reader for a coordinator's assignment of ``study`` at
    its escalation tier, or a running surge's if higher: no queue cap and no idle rule (a
    coordinator may load a reader beyond what pushes would). Empty for a study without a
    worklist (not classified yet)."""
    if study.worklist_id is None or not radiologist_ids:
        return {}
    facts = study_facts(
        study,
        now=now,
        uncovered=uncovered_site_ids(now=now),
        surge_tier=routing.running_surge_tier(
            surge_facts(now=now), worklist_id=study.worklist_id, now=now
        ),
    )
    policy = routing_policy()
    judged: dict[int, routing.Candidate | routing.Exclusion] = {}
    for reader in load_readers(
        now=now, radiologist_ids=radiologist_ids, patient_id=study.patient_id
    ):
        reason = routing.exclusion_reason(
            reader, facts, now=now, policy=policy, tier=facts.effective_tier, apply_cap=False
        )
        judged[reader.id] = (
            routing.score(reader, facts, now)
            if reason is None
            else routing.Exclusion(reader.id, reader.name, reason)
        )
    return judged


def forget() -> None:
    """Forget the coverage and the readers' scopes this process derived."""
    _coverage_cache.clear()
    _scope_cache.clear()
