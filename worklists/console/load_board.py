"""The console's load board: every reader on shift now or next, what they hold and have done."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from worklists.access import AnyUser
from worklists.console.scope import ZERO, Scope, opened_at_of, scope_of
from worklists.models import (
    Assignment,
    Competence,
    Credential,
    Radiologist,
    Shift,
    Study,
    StudyStatus,
)

# --- the readers' load -------------------------------------------------------------------------


@dataclass(slots=True)
class ReaderLoad:
    radiologist: Radiologist
    on_shift: bool
    shift_started_at: dt.datetime | None  # the earliest start of the shifts running now
    shift_ends_at: dt.datetime | None
    next_shift_at: dt.datetime | None  # the next shift starting within the horizon
    target_work_units: Decimal
    carried_deficit_work_units: Decimal
    done_work_units: Decimal  # signed this shift
    queue_count: int
    queue_work_units: Decimal
    open_study: Study | None
    opened_at: dt.datetime | None
    competences: list[tuple[str, str]] = field(default_factory=list)  # (worklist name, level)
    site_codes: list[str] = field(default_factory=list)

    @property
    def idle_since(self) -> dt.datetime | None:
        return self.radiologist.last_active_at

    @property
    def off_shift_with_queue(self) -> bool:
        """Studies wait in the queue of someone who is not working now."""
        return not self.on_shift and self.queue_count > 0

    @property
    def done_share(self) -> float | None:
        if self.target_work_units <= 0:
            return None
        return float(self.done_work_units / self.target_work_units)


def load_board(*, user: AnyUser, now: dt.datetime | None = None) -> list[ReaderLoad]:
    """Every reader on shift now or starting within CONSOLE_NEXT_SHIFT_HOURS, and every reader
    off shift who still holds studies (flagged first, then on shift, then next)."""
    return board_of(scope_of(user), now or timezone.now())


def board_of(
    scope: Scope, now: dt.datetime, *, also_ids: frozenset[int] = frozenset()
) -> list[ReaderLoad]:
    """The board; ``also_ids`` adds readers who would not be on it (off shift, nothing held),
    with the same figures, for the assign chooser."""
    horizon = now + dt.timedelta(hours=settings.CONSOLE_NEXT_SHIFT_HOURS)
    visible = scope.studies

    shifts = list(
        Shift.objects.filter(ends_at__gt=now, starts_at__lte=horizon, radiologist__is_active=True)
        .order_by("starts_at", "id")
        .values_list(
            "radiologist_id",
            "starts_at",
            "ends_at",
            "target_work_units",
            "carried_deficit_work_units",
        )
    )
    queues = {
        row["radiologist_id"]: row
        for row in Assignment.objects.filter(ended_at__isnull=True, study__in=visible)
        .order_by()
        .values("radiologist_id")
        .annotate(count=Count("id"), units=Sum("study__work_units"))
    }
    reader_ids = {s[0] for s in shifts} | set(queues) | also_ids
    readers = Radiologist.objects.filter(id__in=reader_ids).select_related("user").in_bulk()

    running: dict[int, list[tuple[dt.datetime, dt.datetime, Decimal, Decimal]]] = defaultdict(list)
    upcoming: dict[int, dt.datetime] = {}
    for reader_id, starts_at, ends_at, target, deficit in shifts:
        if starts_at <= now:
            running[reader_id].append((starts_at, ends_at, target, deficit))
        else:
            upcoming.setdefault(reader_id, starts_at)

    # Work done this shift: studies the reader signed since their shift began.
    done: dict[int, Decimal] = defaultdict(lambda: ZERO)
    if running:
        since = min(start for spans in running.values() for start, *_rest in spans)
        starts = {rid: min(s[0] for s in spans) for rid, spans in running.items()}
        for reader_id, ended_at, units in (
            Assignment.objects.filter(
                radiologist_id__in=list(running),
                end_reason="signed",
                ended_at__gte=since,
                ended_at__lte=now,
                study__in=visible,
            )
            .order_by()
            .values_list("radiologist_id", "ended_at", "study__work_units")
        ):
            if ended_at is not None and ended_at >= starts[reader_id]:
                done[reader_id] += units

    # The study each reader has open: held and IN_PROGRESS (the latest opened, if several).
    open_rows = list(
        Assignment.objects.filter(
            radiologist_id__in=list(readers),
            ended_at__isnull=True,
            study__in=visible,
            study__status=StudyStatus.IN_PROGRESS,
        ).select_related("study__site")
    )
    opened = opened_at_of(a.study_id for a in open_rows)
    open_study: dict[int, tuple[Study, dt.datetime | None]] = {}
    for a in open_rows:
        at = opened.get(a.study_id)
        current = open_study.get(a.radiologist_id)
        if current is None or (at is not None and (current[1] is None or at > current[1])):
            open_study[a.radiologist_id] = (a.study, at)

    competences: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for reader_id, name, level in (
        Competence.objects.filter(radiologist_id__in=list(readers))
        .order_by("worklist__display_order", "worklist__name")
        .values_list("radiologist_id", "worklist__name", "level")
    ):
        competences[reader_id].append((name, level))
    site_codes: dict[int, list[str]] = defaultdict(list)
    for credential in (
        Credential.objects.filter(radiologist_id__in=list(readers), revoked_at__isnull=True)
        .select_related("site")
        .order_by("site__code")
    ):
        if credential.is_valid_on(now.astimezone(credential.site.zone).date()):
            site_codes[credential.radiologist_id].append(credential.site.code)

    board = []
    for reader_id, reader in readers.items():
        spans = running.get(reader_id, [])
        queue = queues.get(reader_id, {})
        opened_study, opened_at = open_study.get(reader_id, (None, None))
        board.append(
            ReaderLoad(
                radiologist=reader,
                on_shift=bool(spans),
                shift_started_at=min((s[0] for s in spans), default=None),
                shift_ends_at=max((s[1] for s in spans), default=None),
                next_shift_at=upcoming.get(reader_id),
                target_work_units=max((s[2] for s in spans), default=ZERO),
                carried_deficit_work_units=max((s[3] for s in spans), default=ZERO),
                done_work_units=done[reader_id],
                queue_count=queue.get("count", 0),
                queue_work_units=queue.get("units") or ZERO,
                open_study=opened_study,
                opened_at=opened_at,
                competences=competences[reader_id],
                site_codes=site_codes[reader_id],
            )
        )
    board.sort(
        key=lambda r: (
            not r.off_shift_with_queue,
            not r.on_shift,
            r.next_shift_at or r.shift_started_at or now,
            r.radiologist.display_name,
        )
    )
    return board
