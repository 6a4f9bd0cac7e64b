"""Reads of double reading: which read a study is waiting for, the reads a viewer may see
(blinding), and the readers' figures. Studies are found through access.studies_visible_to."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from reports.models import (
    OPEN_DOUBLE_READ_STAGES,
    DoubleRead,
    DoubleReadingPolicy,
    DoubleReadStage,
    IndependentRead,
    ReportDraft,
)
from worklists.access import AnyUser, is_coordinator, radiologist_of, studies_visible_to
from worklists.models import Assignment, Study, StudyStatus

# The stage of a study under an active policy before its first read is signed (no DoubleRead
# row exists yet: it is made when the first read is signed).
FIRST_READ = "FIRST_READ"
INDEPENDENT_STAGES = (FIRST_READ, DoubleReadStage.SECOND_READ)
STAGE_LABELS = {
    FIRST_READ: _("First read"),
    **{stage.value: stage.label for stage in DoubleReadStage},
}
# Statuses in which an unsigned study under a policy is waiting for its first read.
_FIRST_READ_STATUSES = (StudyStatus.READY, StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS)


def active_policy(*, study: Study) -> DoubleReadingPolicy | None:
    """The active policy that wants ``study`` read twice: its worklist's, if the policy covers
    the study's procedure code."""
    if study.worklist_id is None:
        return None
    policy = DoubleReadingPolicy.objects.filter(
        worklist_id=study.worklist_id, is_active=True
    ).first()
    return policy if policy is not None and policy.applies_to(study.procedure_code) else None


def double_read_of(*, study: Study) -> DoubleRead | None:
    return DoubleRead.objects.filter(study=study).select_related("policy").first()


def pending_stage(*, study: Study) -> str | None:
    """What the study waits for: FIRST_READ or SECOND_READ (an independent read, signed with
    its result), ARBITRATION (the final report, signed as usual by a third reader), or None
    when it is not double read (or its double reading is over)."""
    case = double_read_of(study=study)
    if case is not None:
        return case.stage if case.stage in OPEN_DOUBLE_READ_STAGES else None
    if study.status in _FIRST_READ_STATUSES and active_policy(study=study):
        return FIRST_READ
    return None


def is_double_read(*, study: Study) -> bool:
    """Under double reading now or once: its drafts and reads are blinded while it lasts."""
    return pending_stage(study=study) is not None


def _holder_user_id(study: Study) -> int | None:
    return (
        Assignment.objects.filter(study=study, ended_at__isnull=True)
        .values_list("radiologist__user_id", flat=True)
        .first()
    )


def draft_blinded(*, study: Study, draft: ReportDraft | None, user: AnyUser) -> bool:
    """Whether ``draft``'s text is hidden from ``user``: while a study is double read, a draft
    is one read in the writing, seen by its author, the study's holder and coordinators only
    (any other reader may be the next independent reader)."""
    if draft is None or not user.is_authenticated or draft.author_id == user.pk:
        return False
    if not is_double_read(study=study) or is_coordinator(user):
        return False
    return _holder_user_id(study) != user.pk


@dataclasses.dataclass(frozen=True, slots=True)
class ReadsView:
    """A study's double reading as one viewer may see it."""

    case: DoubleRead | None
    stage: str | None
    reads: list[IndependentRead]  # the reads the viewer may see
    hidden: int  # signed reads the viewer may not see yet
    own_read_number: int | None  # the viewer's own read, if they signed one

    @property
    def differences(self) -> frozenset[str]:
        """The result fields (score_right, score_left, recall) in which the two reads shown
        differ: what the arbitrator has to decide, marked on the page."""
        if len(self.reads) != 2:
            return frozenset()
        one, two = self.reads
        return frozenset(
            field
            for field in ("score_right", "score_left", "recall")
            if getattr(one, field) != getattr(two, field)
        )


def reads_for_viewer(*, study: Study, user: AnyUser) -> ReadsView:
    """The study's independent reads ``user`` may see (the study is one they may see).

    Blind until both are signed: an independent reader sees their own read only, and nobody
    who may still read it sees any, while the second read is open. Once both are signed (the
    arbitration, or the double reading is over) both readers, the arbitrator, coordinators and
    everyone who may see the study see both. The holder of an open independent read never sees
    another's."""
    case = double_read_of(study=study)
    stage = pending_stage(study=study) if case is None else case.stage
    if case is None:
        return ReadsView(case=None, stage=stage, reads=[], hidden=0, own_read_number=None)
    reads = list(case.reads.select_related("radiologist").order_by("number"))
    me = radiologist_of(user)
    own = next((r.number for r in reads if me is not None and r.radiologist_id == me.id), None)
    if case.stage == DoubleReadStage.SECOND_READ:
        shown = [r for r in reads if r.number == own] if own is not None else []
        if own is None and is_coordinator(user) and _holder_user_id(study) != user.pk:
            shown = reads
    else:
        shown = reads
    return ReadsView(
        case=case, stage=stage, reads=shown, hidden=len(reads) - len(shown), own_read_number=own
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ReaderFigures:
    radiologist_id: int
    name: str
    reads: int  # independent reads signed
    recalls: int  # of which recalled
    compared: int  # reads whose pair was compared (both signed)
    disagreements: int  # of which the pair disagreed (went to arbitration)

    @property
    def recall_rate(self) -> float | None:
        return self.recalls / self.reads if self.reads else None

    @property
    def disagreement_rate(self) -> float | None:
        return self.disagreements / self.compared if self.compared else None


def reader_figures(
    *, user: AnyUser, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[ReaderFigures]:
    """Recall and disagreement rate per reader over the reads signed in [since, until), of
    the studies ``user`` may see: a coordinator sees every reader's, a reader their own only,
    anyone else nothing."""
    reads = IndependentRead.objects.filter(double_read__study__in=studies_visible_to(user))
    if not is_coordinator(user):
        me = radiologist_of(user)
        if me is None:
            return []
        reads = reads.filter(radiologist=me)
    if since is not None:
        reads = reads.filter(signed_at__gte=since)
    if until is not None:
        reads = reads.filter(signed_at__lt=until)
    return reader_figures_of(reads)


def reader_figures_of(reads: QuerySet[IndependentRead]) -> list[ReaderFigures]:
    """The figures of ``reads`` (already scoped and in the period) per reader, in one grouped
    statement: the one definition the API, the CSV and the indicators page share. A read
    counts as compared once its pair is (the study left the second read), and as a
    disagreement when that pair went to arbitration."""
    compared_stages = [s for s in DoubleReadStage.values if s != DoubleReadStage.SECOND_READ]
    disagreed_stages = [DoubleReadStage.ARBITRATION, DoubleReadStage.ARBITRATED]
    rows = (
        reads.values(
            "radiologist_id",
            "radiologist__user__first_name",
            "radiologist__user__last_name",
            "radiologist__user__username",
        )
        .annotate(
            n=Count("id"),
            recalls=Count("id", filter=Q(recall=True)),
            compared=Count("id", filter=Q(double_read__stage__in=compared_stages)),
            disagreements=Count("id", filter=Q(double_read__stage__in=disagreed_stages)),
        )
        .order_by("radiologist_id")
    )
    figures = []
    for row in rows:
        name = " ".join(
            filter(
                None, (row["radiologist__user__first_name"], row["radiologist__user__last_name"])
            )
        )
        figures.append(
            ReaderFigures(
                radiologist_id=row["radiologist_id"],
                name=name or row["radiologist__user__username"],
                reads=row["n"],
                recalls=row["recalls"],
                compared=row["compared"],
                disagreements=row["disagreements"],
            )
        )
    return sorted(figures, key=lambda f: (f.name.casefold(), f.radiologist_id))
