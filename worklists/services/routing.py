"""Push routing: load the facts, let worklists.routing decide, assign, and keep the trace."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from worklists import coverage, live, routing
from worklists.actors import Actor
from worklists.models import (
    Assignment,
    Competence,
    CoverageWindow,
    Credential,
    Radiologist,
    ReaderFactsVersion,
    RoutingDecision,
    Shift,
    SiteMembership,
    Study,
    StudyStatus,
)
from worklists.services.transitions import lock_study, record_transition

ROUTER = Actor.system("routing")


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


def forget_coverage_cache() -> None:
    """Forget what this process derived from the configuration (coverage, readers' scopes)."""
    _coverage_cache.clear()
    _scope_cache.clear()
    _readers_cache.clear()


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


def study_facts(study: Study, *, now: dt.datetime, uncovered: frozenset[int]) -> routing.StudyFacts:
    assert study.worklist_id is not None
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
    )


@dataclass
class ReaderLoads:
    queue: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    stat_held: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    shift_units: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    patients: dict[int, frozenset[int]] = field(default_factory=lambda: defaultdict(frozenset))


def reader_loads(
    *,
    wanted: QuerySet[Radiologist] | list[int],
    shifts: dict[int, list[routing.ShiftFacts]],
    patient_id: int | None,
) -> ReaderLoads:
    """What each reader holds now, and the work units handed to them this shift: two queries."""
    loads = ReaderLoads()
    held = (
        Assignment.objects.filter(radiologist_id__in=wanted, ended_at__isnull=True)
        .values("radiologist_id")
        .annotate(
            units=Sum("study__work_units"),
            stat=Count("id", filter=Q(study__routing_rank=0)),
            same_patient=Count("id", filter=Q(study__patient_id=patient_id or 0)),
        )
    )
    for row in held:
        loads.queue[row["radiologist_id"]] = row["units"] or Decimal("0")
        loads.stat_held[row["radiologist_id"]] = row["stat"]
        if patient_id is not None and row["same_patient"]:
            loads.patients[row["radiologist_id"]] = frozenset({patient_id})
    shift_start = {
        rid: min(s.starts_at for s in reader_shifts)
        for rid, reader_shifts in shifts.items()
        if reader_shifts
    }
    if shift_start:
        # Work handed over this shift: still held, or signed. Released and reassigned studies
        # went on to someone else and count for them.
        for rid, at, units in Assignment.objects.filter(
            Q(ended_at__isnull=True) | Q(end_reason="signed"),
            radiologist_id__in=wanted,
            assigned_at__gte=min(shift_start.values()),
        ).values_list("radiologist_id", "assigned_at", "study__work_units"):
            if rid in shift_start and at >= shift_start[rid]:
                loads.shift_units[rid] += units
    return loads


def load_readers(
    *,
    now: dt.datetime,
    radiologist_ids: Iterable[int] | None = None,
    site_id: int | None = None,
    worklist_id: int | None = None,
    patient_id: int | None = None,
    with_load: bool = True,
) -> list[routing.ReaderFacts]:
    """Facts of the radiologists on shift now (or of the given ones), in a fixed few queries.

    For one study (``worklist_id``, ``site_id``, ``patient_id``) only what bears on it is read:
    the readers on shift competent in its worklist, their credentials for its site, whether they
    hold a study of its patient. The reader set travels as a subquery, never as a long id list.
    """
    if radiologist_ids is not None:
        wanted: QuerySet[Radiologist] | list[int] = list(radiologist_ids)
        shifts_qs = Shift.objects.filter(radiologist_id__in=wanted)
    else:
        shifts_qs = Shift.objects.filter(starts_at__lte=now, ends_at__gt=now)
        if worklist_id is not None:
            shifts_qs = shifts_qs.filter(radiologist__competences__subspecialty_id=worklist_id)
        wanted = Radiologist.objects.filter(id__in=shifts_qs.values("radiologist_id"))
    shifts = list(
        shifts_qs.filter(starts_at__lte=now, ends_at__gt=now).values(
            "id",
            "radiologist_id",
            "starts_at",
            "ends_at",
            "role",
            "target_work_units",
            "carried_deficit_work_units",
        )
    )
    shift_ids = [s["id"] for s in shifts]
    shift_worklists: dict[int, set[int]] = defaultdict(set)
    shift_sites: dict[int, set[int]] = defaultdict(set)
    if shift_ids:
        for shift_id, wl in Shift.worklists.through.objects.filter(
            shift_id__in=shift_ids
        ).values_list("shift_id", "subspecialty_id"):
            shift_worklists[shift_id].add(wl)
        for shift_id, st in Shift.sites.through.objects.filter(shift_id__in=shift_ids).values_list(
            "shift_id", "site_id"
        ):
            shift_sites[shift_id].add(st)
    by_reader: dict[int, list[routing.ShiftFacts]] = defaultdict(list)
    for s in shifts:
        by_reader[s["radiologist_id"]].append(
            routing.ShiftFacts(
                id=s["id"],
                starts_at=s["starts_at"],
                ends_at=s["ends_at"],
                role=s["role"],
                worklist_ids=frozenset(shift_worklists[s["id"]]) or None,
                site_ids=frozenset(shift_sites[s["id"]]) or None,
                target_work_units=s["target_work_units"],
                carried_deficit=s["carried_deficit_work_units"],
            )
        )
    people = {
        r["id"]: r
        for r in Radiologist.objects.filter(id__in=wanted).values(
            "id",
            "is_active",
            "modalities",
            "last_active_at",
            "user_id",
            "user__username",
            "user__first_name",
            "user__last_name",
        )
    }
    if not people:
        return []
    competences: dict[int, dict[int, str]] = defaultdict(dict)
    competence_qs = Competence.objects.filter(radiologist_id__in=wanted)
    if worklist_id is not None:
        competence_qs = competence_qs.filter(subspecialty_id=worklist_id)
    for rid, wl, level in competence_qs.values_list("radiologist_id", "subspecialty_id", "level"):
        competences[rid][wl] = level
    credentials_qs = Credential.objects.filter(radiologist_id__in=wanted)
    if site_id is not None:
        credentials_qs = credentials_qs.filter(site_id=site_id)
    credentials: dict[int, list[routing.CredentialFacts]] = defaultdict(list)
    for c in credentials_qs.values(
        "radiologist_id", "site_id", "site__time_zone", "valid_from", "valid_until", "revoked_at"
    ):
        credentials[c["radiologist_id"]].append(
            routing.CredentialFacts(
                site_id=c["site_id"],
                time_zone=c["site__time_zone"],
                valid_from=c["valid_from"],
                valid_until=c["valid_until"],
                revoked=c["revoked_at"] is not None,
            )
        )
    members: dict[int, set[int]] = defaultdict(set)
    member_qs = SiteMembership.objects.filter(user__radiologist__in=wanted)
    if site_id is not None:
        member_qs = member_qs.filter(site_id=site_id)
    for rid, member_site in member_qs.values_list("user__radiologist__id", "site_id"):
        members[rid].add(member_site)
    loads = (
        reader_loads(wanted=wanted, shifts=by_reader, patient_id=patient_id)
        if with_load
        else ReaderLoads()
    )
    readers = []
    for rid in sorted(people):
        person = people[rid]
        name = " ".join(filter(None, (person["user__first_name"], person["user__last_name"])))
        readers.append(
            routing.ReaderFacts(
                id=rid,
                name=name or person["user__username"],
                is_active=person["is_active"],
                modalities=frozenset(person["modalities"]),
                competences=competences[rid],
                credentials=tuple(credentials[rid]),
                shifts=tuple(by_reader[rid]),
                member_site_ids=frozenset(members[rid]),
                queue_work_units=loads.queue[rid],
                stat_held=loads.stat_held[rid],
                shift_work_units=loads.shift_units[rid],
                held_patient_ids=loads.patients[rid],
                last_active_at=person["last_active_at"],
            )
        )
    return readers


def _queue_work_units(radiologist_id: int) -> Decimal:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(SUM(st.work_units), 0) FROM worklists_assignment a"
                " JOIN worklists_study st ON st.id = a.study_id"
                " WHERE a.radiologist_id = %s AND a.ended_at IS NULL",
                [radiologist_id],
            )
            row = cursor.fetchone()
        return Decimal(row[0]) if row else Decimal("0")
    total = Assignment.objects.filter(
        radiologist_id=radiologist_id, ended_at__isnull=True
    ).aggregate(units=Sum("study__work_units"))["units"]
    return total or Decimal("0")


# The readers on shift who are competent in a worklist, with their credentials: read once per
# short while per process for each worklist, so a decision reads only the loads. Whatever may
# have changed since (credential revoked, shift ended or edited, competence removed) is checked
# for the chosen reader when the assignment locks them; a failed check forgets the cache and
# decides again with fresh facts.
_readers_cache: dict[int, tuple[float, list[routing.ReaderFacts], int]] = {}


def _readers_for(
    *, worklist_id: int, patient_id: int, now: dt.datetime, fresh: bool
) -> tuple[list[routing.ReaderFacts], int]:
    """Readers to judge for a study with their current loads, and how many active radiologists
    were not considered (off shift or not competent in the worklist)."""
    cached = None if fresh else _readers_cache.get(worklist_id)
    if cached is not None and cached[0] > time.monotonic():
        static, others = cached[1], cached[2]
    else:
        static = load_readers(now=now, worklist_id=worklist_id, with_load=False)
        others = Radiologist.objects.filter(is_active=True).count() - len(static)
        _readers_cache[worklist_id] = (
            time.monotonic() + settings.ROUTING_SCOPE_CACHE_SECONDS,
            static,
            others,
        )
    if connection.vendor == "postgresql":
        loads = _worklist_loads_sql(worklist_id=worklist_id, patient_id=patient_id, now=now)
    else:
        # The loads of whoever is on shift and competent now, the reader set as a subquery.
        on_shift = Radiologist.objects.filter(
            id__in=Shift.objects.filter(
                starts_at__lte=now,
                ends_at__gt=now,
                radiologist__competences__subspecialty_id=worklist_id,
            ).values("radiologist_id")
        )
        loads = reader_loads(
            wanted=on_shift,
            shifts={r.id: r.active_shifts(now) for r in static},
            patient_id=patient_id,
        )
    # The cached facts carry no load: only readers holding or having done work are copied.
    loaded = loads.queue.keys() | loads.stat_held.keys()
    loaded |= loads.shift_units.keys() | loads.patients.keys()
    readers = [
        replace(
            r,
            queue_work_units=loads.queue[r.id],
            stat_held=loads.stat_held[r.id],
            shift_work_units=loads.shift_units[r.id],
            held_patient_ids=loads.patients[r.id],
        )
        if r.id in loaded
        else r
        for r in static
    ]
    return readers, others


# The loads of the readers on shift now who are competent in a worklist, in one statement: what
# each holds (work units, STAT studies, a study of this patient) and the work units handed to
# them since their current shift began (still held, or signed; released and reassigned studies
# count for whoever got them next). Same figures as reader_loads, without an ORM query to build.
_WORKLIST_LOADS_SQL = """
WITH readers AS (
    SELECT sh.radiologist_id, min(sh.starts_at) AS shift_start
    FROM worklists_shift sh
    WHERE sh.starts_at <= %(now)s AND sh.ends_at > %(now)s
      AND EXISTS (SELECT 1 FROM worklists_competence c
                  WHERE c.radiologist_id = sh.radiologist_id AND c.subspecialty_id = %(worklist)s)
    GROUP BY sh.radiologist_id
)
SELECT r.radiologist_id,
    COALESCE(SUM(st.work_units) FILTER (WHERE a.ended_at IS NULL), 0),
    COUNT(*) FILTER (WHERE a.ended_at IS NULL AND st.routing_rank = 0),
    COUNT(*) FILTER (WHERE a.ended_at IS NULL AND st.patient_id = %(patient)s),
    COALESCE(SUM(st.work_units) FILTER (WHERE a.assigned_at >= r.shift_start), 0)
FROM readers r
JOIN worklists_assignment a ON a.radiologist_id = r.radiologist_id
    AND (a.ended_at IS NULL OR (a.end_reason = 'signed' AND a.assigned_at >= r.shift_start))
JOIN worklists_study st ON st.id = a.study_id
GROUP BY r.radiologist_id
"""


def _worklist_loads_sql(*, worklist_id: int, patient_id: int, now: dt.datetime) -> ReaderLoads:
    loads = ReaderLoads()
    with connection.cursor() as cursor:
        cursor.execute(
            _WORKLIST_LOADS_SQL, {"now": now, "worklist": worklist_id, "patient": patient_id}
        )
        for rid, queue, stat, same_patient, shift_units in cursor.fetchall():
            loads.queue[rid] = queue
            loads.stat_held[rid] = stat
            loads.shift_units[rid] = shift_units
            if same_patient:
                loads.patients[rid] = frozenset({patient_id})
    return loads


# A push on PostgreSQL, once the study and the chosen reader are locked: the decision, the study's
# move to ASSIGNED with its event, and the assignment, in one statement.
_PUSH_SQL = """
WITH decision AS (
    INSERT INTO worklists_routingdecision
        (study_id, decided_at, mode, trigger, tier, radiologist_id, trace)
    VALUES (%(study)s, %(now)s, 'PUSH', %(trigger)s, %(tier)s, %(rid)s, %(trace)s::jsonb)
    RETURNING id
), moved AS (
    UPDATE worklists_study SET status = 'ASSIGNED', status_changed_at = %(now)s,
        updated_at = %(now)s
    WHERE id = %(study)s AND status = 'READY'
    RETURNING id
), evented AS (
    INSERT INTO worklists_studyevent
        (study_id, from_status, to_status, actor_id, actor_label, at, reason, data)
    SELECT id, 'READY', 'ASSIGNED', NULL, %(label)s, %(now)s, %(reason)s,
        jsonb_build_object('radiologist_id', %(rid)s::bigint, 'kind', 'PUSH')
    FROM moved
), assigned AS (
    INSERT INTO worklists_assignment
        (study_id, radiologist_id, kind, assigned_at, assigned_by_id, reason, last_activity_at,
         ended_at, end_reason)
    SELECT m.id, %(rid)s, 'PUSH', %(now)s, NULL, 'routing decision ' || d.id, NULL, NULL, ''
    FROM moved m, decision d
)
SELECT id FROM decision
"""


# The chosen reader's row locked, provided they are still active, on shift, competent in the
# worklist and credentialed for the site on its own calendar day (the same as the ORM query).
_LOCK_READER_SQL = """
SELECT r.id FROM worklists_radiologist r
WHERE r.id = %(rid)s AND r.is_active
  AND EXISTS (SELECT 1 FROM worklists_shift sh WHERE sh.radiologist_id = r.id
              AND sh.starts_at <= %(now)s AND sh.ends_at > %(now)s)
  AND EXISTS (SELECT 1 FROM worklists_competence c WHERE c.radiologist_id = r.id
              AND c.subspecialty_id = %(worklist)s)
  AND EXISTS (SELECT 1 FROM worklists_credential cr WHERE cr.radiologist_id = r.id
              AND cr.site_id = %(site)s AND cr.revoked_at IS NULL AND cr.valid_from <= %(day)s
              AND (cr.valid_until IS NULL OR cr.valid_until >= %(day)s))
  AND (%(idle_cutoff)s::timestamptz IS NULL OR r.last_active_at >= %(idle_cutoff)s
       OR NOT EXISTS (SELECT 1 FROM worklists_shift sh WHERE sh.radiologist_id = r.id
                      AND sh.starts_at < %(idle_cutoff)s AND sh.ends_at > %(now)s))
FOR UPDATE OF r
"""


def _lock_if_still_eligible(
    *, radiologist_id: int, study: Study, now: dt.datetime
) -> Radiologist | None:
    """Lock the chosen reader's row (serialising pushes to one queue), provided they are still
    active, on shift, competent in the study's worklist, credentialed for its site today and
    not idle (routing.Policy.is_idle: active since the cutoff, or on a shift begun since)."""
    assert study.worklist_id is not None
    site_day = now.astimezone(study.site.zone).date()
    idle_after = routing_policy().push_idle_after
    idle_cutoff = now - idle_after if idle_after is not None else None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _LOCK_READER_SQL,
                {
                    "rid": radiologist_id,
                    "now": now,
                    "worklist": study.worklist_id,
                    "site": study.site_id,
                    "day": site_day,
                    "idle_cutoff": idle_cutoff,
                },
            )
            row = cursor.fetchone()
        return Radiologist(id=row[0]) if row else None
    not_idle = (
        Q()
        if idle_cutoff is None
        else Q(last_active_at__gte=idle_cutoff)
        | ~Exists(
            Shift.objects.filter(
                radiologist_id=OuterRef("id"), starts_at__lt=idle_cutoff, ends_at__gt=now
            )
        )
    )
    return (
        Radiologist.objects.select_for_update(of=("self",))
        .filter(not_idle, id=radiologist_id, is_active=True)
        .filter(
            Exists(
                Shift.objects.filter(
                    radiologist_id=OuterRef("id"), starts_at__lte=now, ends_at__gt=now
                )
            ),
            Exists(
                Competence.objects.filter(
                    radiologist_id=OuterRef("id"), subspecialty_id=study.worklist_id
                )
            ),
            Exists(
                Credential.objects.filter(
                    Q(valid_until__isnull=True) | Q(valid_until__gte=site_day),
                    radiologist_id=OuterRef("id"),
                    site_id=study.site_id,
                    revoked_at__isnull=True,
                    valid_from__lte=site_day,
                )
            ),
        )
        .first()
    )


def _push_postgresql(
    *,
    study: Study,
    radiologist_id: int,
    reader_name: str,
    now: dt.datetime,
    trigger: str,
    tier: int,
    trace: dict[str, object],
) -> RoutingDecision:
    """Write a push to a locked READY study in one statement; broadcast after commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            _PUSH_SQL,
            {
                "study": study.id,
                "now": now,
                "trigger": trigger,
                "tier": tier,
                "rid": radiologist_id,
                "trace": json.dumps(trace, cls=DjangoJSONEncoder),
                "label": ROUTER.label,
                "reason": f"routed to {reader_name}",
            },
        )
        row = cursor.fetchone()
    assert row is not None
    live.broadcast_after_commit(
        study_id=study.id, site_id=study.site_id, event="study.status", status=StudyStatus.ASSIGNED
    )
    routed = RoutingDecision(
        id=row[0],
        study=study,
        decided_at=now,
        mode=RoutingDecision.Mode.PUSH,
        trigger=trigger,
        tier=tier,
        radiologist_id=radiologist_id,
        trace=trace,
    )
    routed._state.adding = False
    routed._state.db = "default"
    study.status = StudyStatus.ASSIGNED
    study.status_changed_at = now
    return routed


def _lock_study_for_push(study: Study) -> Study:
    """The study read for the decision, locked and with its routing fields read again under the
    lock (on PostgreSQL by one hand-written query rather than an ORM query to build)."""
    if connection.vendor != "postgresql":
        return lock_study(study.id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, work_units, escalation_tier, worklist_id, site_id"
            " FROM worklists_study WHERE id = %s FOR UPDATE",
            [study.id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Study.DoesNotExist(f"study {study.id} no longer exists")
    if row[4] != study.site_id:
        return lock_study(study.id)  # moved to another site meanwhile: read it whole
    study.status, study.work_units, study.escalation_tier, study.worklist_id = row[:4]
    return study


def study_route(
    *,
    study_id: int,
    trigger: str,
    exclude_radiologist_id: int | None = None,
    fresh: bool = False,
) -> RoutingDecision | None:
    """Push: give a READY study to the best eligible reader on shift, and store why.

    The decision is made from facts read without locks (no lock is held while ranking hundreds
    of readers); the assignment then locks the study and the chosen reader and checks again, so
    a study is assigned once, to a reader still eligible, and a queue never passes its cap.
    None: the study is not READY.
    """
    now = timezone.now()
    study = Study.objects.select_related("site").filter(id=study_id).first()
    if study is None or study.status != StudyStatus.READY or study.worklist_id is None:
        return None
    facts = study_facts(study, now=now, uncovered=uncovered_site_ids(now=now))
    readers, others = _readers_for(
        worklist_id=study.worklist_id,
        patient_id=study.patient_id,
        now=now,
        fresh=fresh,
    )
    policy = routing_policy()
    exclude = frozenset({exclude_radiologist_id}) if exclude_radiologist_id else frozenset()
    decision = routing.decide(facts, readers, now=now, policy=policy, exclude_ids=exclude)
    trace = decision.trace()
    # Readers not on shift, or not competent in this worklist at all, are counted, not listed.
    trace["not_considered"] = others
    trace["trigger"] = trigger
    with transaction.atomic():
        locked = _lock_study_for_push(study)
        if locked.status != StudyStatus.READY:
            return None  # someone claimed it meanwhile: their decision stands
        chosen = decision.chosen
        if chosen is not None:
            if (
                _lock_if_still_eligible(radiologist_id=chosen.reader_id, study=locked, now=now)
                is None
            ):
                stale = True
            else:
                stale = False
                held = _queue_work_units(chosen.reader_id)
                if (
                    not facts.waives_cap
                    and held > 0
                    and held + locked.work_units > policy.queue_cap_work_units
                ):
                    trace["lost_race"] = f"queue of {chosen.name} filled meanwhile"
                    chosen = None
            if stale:
                chosen = None
        else:
            stale = False
        if not stale and chosen is not None and connection.vendor == "postgresql":
            routed = _push_postgresql(
                study=locked,
                radiologist_id=chosen.reader_id,
                reader_name=chosen.name,
                now=now,
                trigger=trigger,
                tier=decision.tier,
                trace=trace,
            )
        elif not stale:
            routed = RoutingDecision.objects.create(
                study=locked,
                decided_at=now,
                mode=RoutingDecision.Mode.PUSH,
                trigger=trigger,
                tier=decision.tier,
                radiologist_id=chosen.reader_id if chosen else None,
                trace=trace,
            )
            if chosen is not None:
                record_transition(
                    study=locked,
                    to_status=StudyStatus.ASSIGNED,
                    actor=ROUTER,
                    at=now,
                    reason=f"routed to {chosen.name}",
                    data={"radiologist_id": chosen.reader_id, "kind": Assignment.Kind.PUSH},
                )
                Assignment.objects.create(
                    study=locked,
                    radiologist_id=chosen.reader_id,
                    kind=Assignment.Kind.PUSH,
                    assigned_at=now,
                    reason=f"routing decision {routed.id}",
                )
    if stale:
        # The chosen reader's situation changed since their facts were read: decide afresh.
        if fresh:
            return None
        _readers_cache.pop(study.worklist_id, None)
        return study_route(
            study_id=study_id,
            trigger=trigger,
            exclude_radiologist_id=exclude_radiologist_id,
            fresh=True,
        )
    return routed


def reader_fill_queue(*, radiologist_id: int, trigger: str, limit: int | None = None) -> int:
    """Push after a reader starts a shift or finishes a study: route the first READY studies
    of their scope, in reading order, until their queue is full. Each study still goes to its
    best reader, which is usually the one with room. Returns how many they received."""
    now = timezone.now()
    readers = load_readers(now=now, radiologist_ids=[radiologist_id])
    if not readers or not readers[0].active_shifts(now):
        return 0
    reader = readers[0]
    policy = routing_policy()
    room = policy.queue_cap_work_units - reader.queue_work_units
    if room <= 0:
        return 0
    site_ids = {c.site_id for c in reader.credentials}
    scope = routing.reader_scope(
        reader,
        now=now,
        site_ids=site_ids,
        covered_site_ids=frozenset(site_ids - uncovered_site_ids(now=now)),
    )
    if scope.is_empty:
        return 0
    pairs = scope.pairs_by_tier[routing.TIER_POOL]
    candidates = (
        Study.objects.filter(
            status=StudyStatus.READY,
            worklist_id__in={w for w, _ in pairs},
            site_id__in={s for _, s in pairs},
            modality__in=scope.modalities,
        )
        .order_by("routing_rank", "deadline", "id")
        .values_list("id", flat=True)[: limit or settings.ROUTING_FILL_BATCH]
    )
    received = 0
    for study_id in list(candidates):
        decision = study_route(study_id=study_id, trigger=trigger)
        if decision is not None and decision.radiologist_id == radiologist_id:
            received += 1
            if _queue_work_units(radiologist_id) >= policy.queue_cap_work_units:
                break
    return received
