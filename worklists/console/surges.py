"""What the pages show of surges (worklists.services.surges): the console's panel (coordinators
only) and the worklist page's one line (everyone who sees the worklist: a surge names a
worklist, a reason and a time, no patient data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from worklists.access import AnyUser
from worklists.models import Surge
from worklists.services.alerts import require_coordinator
from worklists.services.surges import running

# Ended surges stay on the console this long, so that a coordinator sees what just ended.
RECENT = dt.timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class ConsoleSurges:
    running: list[Surge]
    recent: list[Surge]  # ended (or run out) within RECENT, the latest first

    @property
    def first_end(self) -> dt.datetime | None:
        """When the first running surge runs out (the console refreshes itself then)."""
        return min((s.ends_at for s in self.running), default=None)


def surges_running(*, now: dt.datetime | None = None) -> list[Surge]:
    """Surges widening now, every worklist's first, then by worklist."""
    now = now or timezone.now()
    return sorted(
        Surge.objects.filter(running(now)).select_related("worklist", "started_by"),
        key=lambda s: (s.worklist is not None, s.worklist.display_order if s.worklist else 0),
    )


def console_surges(*, user: AnyUser, now: dt.datetime | None = None) -> ConsoleSurges:
    """Running surges and those ended recently, for the console's API. Coordinators only
    (NotACoordinator otherwise)."""
    require_coordinator(user)
    return surges_board(now=now or timezone.now())


def surges_board(*, now: dt.datetime) -> ConsoleSurges:
    """console_surges for a caller that has checked the user is a coordinator (the console's
    selector): one query."""
    rows = list(
        Surge.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=now - RECENT))
        .filter(ends_at__gte=now - RECENT)
        .select_related("worklist", "started_by", "ended_by")
        .order_by("-started_at", "-id")
    )
    running_now = [s for s in rows if s.ended_at is None and s.ends_at > now]  # as running()
    return ConsoleSurges(
        running=sorted(running_now, key=lambda s: s.ends_at),
        recent=[s for s in rows if s not in running_now],
    )


def surges_of_worklist(surges: list[Surge], worklist_id: int | None) -> list[Surge]:
    """The running surges that widen ``worklist_id``: its own and every worklist's."""
    return [s for s in surges if s.worklist_id is None or s.worklist_id == worklist_id]
