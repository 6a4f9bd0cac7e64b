"""Who a coordinator may give a study to: every reader credentialed for its site, judged by the
routing rules (worklists.routing.exclusion_reason, as a coordinator's assignment is judged) and
shown with the load board's figures for them (worklists.console.load_board, not recomputed).

Eligible readers come first, least loaded first; the others follow with the rule that excludes
them. Choosing one of those is an override: the assignment records it, with the reason the
coordinator gave (every coordinator assignment needs one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from worklists import routing
from worklists.access import AnyUser
from worklists.console.load_board import ReaderLoad, board_of
from worklists.console.scope import scope_of
from worklists.errors import StudyNotFound
from worklists.models import Assignment, Radiologist, Study, StudyStatus
from worklists.selectors import radiologists_credentialed_for
from worklists.services import routing_decisions
from worklists.services.surges import surge_facts

ASSIGNABLE_STATUSES = (StudyStatus.READY, StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class ReaderCandidate:
    load: ReaderLoad  # the load board's row for this reader
    excluded_because: str  # the routing rule that excludes them; "" when eligible
    holds_it: bool  # the study's holder now (nothing to assign)
    routing_choice: bool  # the reader routing would push the study to

    @property
    def eligible(self) -> bool:
        return not self.excluded_because

    @property
    def overridable(self) -> bool:
        """Excluded by a rule a coordinator may override: not by what keeps a double read's
        reads independent (an earlier reader, their site), which the assignment refuses."""
        return not self.eligible and self.excluded_because not in routing.INDEPENDENCE_EXCLUSIONS

    @property
    def radiologist(self) -> Radiologist:
        return self.load.radiologist


@dataclass(frozen=True, slots=True)
class Candidates:
    study: Study
    now: dt.datetime
    tier: int
    raised_by_surge: bool
    holder_id: int | None
    readers: list[ReaderCandidate]
    not_assignable_because: str  # "" when the study can be assigned now

    @property
    def eligible(self) -> list[ReaderCandidate]:
        return [c for c in self.readers if c.eligible and not c.holds_it]

    @property
    def overrides(self) -> list[ReaderCandidate]:
        return [c for c in self.readers if c.overridable and not c.holds_it]


def study_candidates(*, user: AnyUser, study_id: int, now: dt.datetime | None = None) -> Candidates:
    """The assign chooser for one study (coordinators only; StudyNotFound outside their scope).
    The caller audits the read of the study."""
    scope = scope_of(user)
    now = now or timezone.now()
    study = scope.studies.select_related("site", "worklist").filter(id=study_id).first()
    if study is None:
        raise StudyNotFound(_("No such study."))
    # Valid on the site's own date: the assignment refuses anyone else, override or not.
    credentialed = list(
        radiologists_credentialed_for(site=study.site, now=now)
        .order_by()
        .values_list("id", flat=True)
    )
    holder_id = (
        Assignment.objects.filter(study_id=study.id, ended_at__isnull=True)
        .values_list("radiologist_id", flat=True)
        .first()
    )
    wanted = frozenset(credentialed)
    board = [r for r in board_of(scope, now, also_ids=wanted) if r.radiologist.id in wanted]
    judged = routing_decisions.coordinator_verdicts(study, sorted(wanted), now=now)
    if study.worklist_id is None:
        not_assignable = _("It is not classified yet: it has no worklist.")
    elif study.status not in ASSIGNABLE_STATUSES:
        not_assignable = _("It is %(status)s: only unread studies are assigned.") % {
            "status": study.get_status_display()
        }
    else:
        not_assignable = ""
    scores = {rid: v.score for rid, v in judged.items() if isinstance(v, routing.Candidate)}
    best = max(
        (rid for rid in scores if rid != holder_id),
        key=lambda rid: (scores[rid], -rid),
        default=None,
    )
    readers = [
        ReaderCandidate(
            load=load,
            excluded_because=(
                verdict.reason
                if isinstance(verdict := judged.get(load.radiologist.id), routing.Exclusion)
                else ("" if verdict is not None else _("not judged: the study has no worklist"))
            ),
            holds_it=load.radiologist.id == holder_id,
            routing_choice=load.radiologist.id == best,
        )
        for load in board
    ]
    # Eligible first, least loaded first; then the excluded, those on shift first.
    readers.sort(
        key=lambda c: (
            not c.eligible,
            not c.load.on_shift,
            c.load.queue_work_units,
            c.load.queue_count,
            c.radiologist.display_name,
        )
    )
    surge_tier = (
        routing.running_surge_tier(surge_facts(now=now), worklist_id=study.worklist_id, now=now)
        if study.worklist_id is not None
        else routing.TIER_PRIMARY
    )
    return Candidates(
        study=study,
        now=now,
        # The tier the verdicts were judged at: a running surge's, when above the study's own.
        tier=max(study.escalation_tier, surge_tier),
        raised_by_surge=surge_tier > study.escalation_tier,
        holder_id=holder_id,
        readers=readers,
        not_assignable_because=not_assignable,
    )
