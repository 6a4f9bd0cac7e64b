"""The readers' facts a routing decision weighs: shifts, competences, credentials, and the
loads they hold (work units, STAT studies, the patient's studies, this shift's work)."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum

from worklists import routing
from worklists.models import (
    Assignment,
    Competence,
    Credential,
    Radiologist,
    Shift,
    SiteMembership,
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
            shifts_qs = shifts_qs.filter(radiologist__competences__worklist_id=worklist_id)
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
        ).values_list("shift_id", "worklist_id"):
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
        competence_qs = competence_qs.filter(worklist_id=worklist_id)
    for rid, wl, level in competence_qs.values_list("radiologist_id", "worklist_id", "level"):
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


def queue_work_units(radiologist_id: int) -> Decimal:
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


def readers_for(
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
    # The loads of whoever is on shift and competent now, the reader set as a subquery.
    on_shift = Radiologist.objects.filter(
        id__in=Shift.objects.filter(
            starts_at__lte=now,
            ends_at__gt=now,
            radiologist__competences__worklist_id=worklist_id,
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


def forget_worklist_readers(worklist_id: int | None = None) -> None:
    """Forget the readers cached for ``worklist_id`` (all worklists: None)."""
    if worklist_id is None:
        _readers_cache.clear()
    else:
        _readers_cache.pop(worklist_id, None)
