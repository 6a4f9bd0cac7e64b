"""Reads of peer review. Every query of reviews starts from the scoping function
(worklists.access.studies_visible_to): a review is seen only by someone who may see its study.

Who sees which reviews: a coordinator every review in their scope; a radiologist the reviews
assigned to them; an author the scored reviews of their own reports (not who reviewed them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from quality.models import OPEN_REVIEW_STATUSES, ReviewScaleLevel, ReviewStatus, ReviewTask
from quality.scales import default_scale, level_key
from quality.services.routing import eligible_reviewers
from reports.models import IndependentRead
from reports.services.arbitration import DOUBLE_READING_SECTION
from worklists.access import is_coordinator, radiologist_of, studies_visible_to
from worklists.models import Radiologist, Study

AnyUser = AbstractBaseUser | AnonymousUser

_RELATED = (
    "study__site",
    "study__patient",
    "study__worklist",
    "worklist",
    "author__user",
    "reviewer__user",
    "scale",
    "level",
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking, resolved once per request: their radiologist (if any), whether they
    coordinate, and the studies the scoping function lets them see."""

    radiologist_id: int | None
    coordinator: bool
    studies: QuerySet[Study]

    @property
    def has_reviews(self) -> bool:
        """Whether peer review has anything for them (a site's staff: never)."""
        return self.coordinator or self.radiologist_id is not None


def viewer_of(user: AnyUser) -> Viewer:
    radiologist = radiologist_of(user)
    coordinator = is_coordinator(user)
    if radiologist is None and not coordinator:
        # Nothing of peer review is theirs: no need to resolve their scope.
        return Viewer(radiologist_id=None, coordinator=False, studies=Study.objects.none())
    return Viewer(
        radiologist_id=radiologist.id if radiologist is not None else None,
        coordinator=coordinator,
        studies=studies_visible_to(user),
    )


def reviews_visible_to(viewer: Viewer) -> QuerySet[ReviewTask]:
    """The review tasks the viewer may see as reviewer or coordinator (not as author)."""
    in_scope = ReviewTask.objects.filter(study__in=viewer.studies)
    if viewer.coordinator:
        return in_scope.select_related(*_RELATED)
    if viewer.radiologist_id is None:
        return ReviewTask.objects.none()
    return in_scope.filter(reviewer_id=viewer.radiologist_id).select_related(*_RELATED)


def review_get(*, viewer: Viewer, task_id: int) -> ReviewTask | None:
    return reviews_visible_to(viewer).filter(pk=task_id).first()


def my_open_reviews(*, viewer: Viewer) -> list[ReviewTask]:
    """The reviews assigned to the viewer and not yet scored, the nearest deadline first."""
    if viewer.radiologist_id is None:
        return []
    return list(
        ReviewTask.objects.filter(
            study__in=viewer.studies,
            reviewer_id=viewer.radiologist_id,
            status=ReviewStatus.ASSIGNED,
        )
        .select_related(*_RELATED)
        .order_by("deadline", "id")
    )


def reviews_waiting(*, viewer: Viewer, limit: int = 50) -> list[ReviewTask]:
    """Reviews nobody eligible could take (coordinators only; others: none)."""
    if not viewer.coordinator:
        return []
    return list(
        ReviewTask.objects.filter(study__in=viewer.studies, status=ReviewStatus.UNASSIGNED)
        .select_related(*_RELATED)
        .order_by("deadline", "id")[:limit]
    )


def discrepancies_of_author(
    *, viewer: Viewer, since: dt.datetime, limit: int = 20
) -> list[ReviewTask]:
    """Significant discrepancies found in the viewer's own signed reports since ``since``: what
    the author is told (with the way to an addendum), newest first."""
    if viewer.radiologist_id is None:
        return []
    return list(
        ReviewTask.objects.filter(
            study__in=viewer.studies,
            author_id=viewer.radiologist_id,
            status=ReviewStatus.SCORED,
            level__significant=True,
            reviewed_at__gte=since,
        )
        .select_related(*_RELATED)
        .order_by("-reviewed_at", "-id")[:limit]
    )


def author_shown_to(task: ReviewTask, viewer: Viewer) -> str | None:
    """The author's name as the viewer may see it: None while the policy blinds the reviewer,
    also when the reviewer is a coordinator too, until they have scored (other coordinators
    always see it; the author is themselves)."""
    if not task.blind_author or viewer.radiologist_id == task.author_id:
        return task.author.display_name
    reviewing = (
        viewer.radiologist_id is not None
        and viewer.radiologist_id == task.reviewer_id
        and task.status in OPEN_REVIEW_STATUSES
    )
    if viewer.coordinator and not reviewing:
        return task.author.display_name
    return None


def report_sections_shown(task: ReviewTask, viewer: Viewer) -> list[dict[str, str]]:
    """The reviewed report's sections as the viewer may see them: while the author is hidden,
    without the double reading's section, which names the readers who signed it."""
    hidden = author_shown_to(task, viewer) is None
    # A joint final writes each reader's differing text under their name: while blind, the
    # readers are "Reader 1" and "Reader 2" there (in the order they read).
    readers = (
        list(
            IndependentRead.objects.filter(double_read__study_id=task.study_id)
            .order_by("signed_at", "id")
            .values_list("signer_name", flat=True)
        )
        if hidden
        else []
    )

    def shown(text: str) -> str:
        for number, name in enumerate(readers, start=1):
            if name:
                text = text.replace(name, _("Reader %(number)d") % {"number": number})
        return text

    return [
        {"key": s.get("key", ""), "title": s.get("title", ""), "text": shown(s.get("text", ""))}
        for s in task.version.sections
        if not (hidden and s.get("key") == DOUBLE_READING_SECTION)
    ]


@dataclass(frozen=True, slots=True)
class ReassignControl:
    """What a coordinator's reassignment form offers: the eligible reviewers (routing's rule),
    fewest open reviews first, the present reviewer left out."""

    choices: list[Radiologist]


def reassign_control(
    task: ReviewTask, viewer: Viewer, *, now: dt.datetime
) -> ReassignControl | None:
    """The reassignment form for a coordinator and an open review; None for anyone else, and
    for the review's own reviewer while it is open (a blind reviewer would read the author off
    the list: everyone eligible but them; another coordinator reassigns it)."""
    if not viewer.coordinator or task.status not in OPEN_REVIEW_STATUSES:
        return None
    if is_own_open_review(task, viewer):
        return None
    choices = eligible_reviewers(
        study=task.study, worklist_id=task.worklist_id, author_id=task.author_id, now=now
    ).select_related("user")
    if task.reviewer_id is not None:
        choices = choices.exclude(id=task.reviewer_id)
    return ReassignControl(choices=list(choices))


def is_own_open_review(task: ReviewTask, viewer: Viewer) -> bool:
    return (
        viewer.radiologist_id is not None
        and viewer.radiologist_id == task.reviewer_id
        and task.status in OPEN_REVIEW_STATUSES
    )


def is_open(task: ReviewTask) -> bool:
    return task.status in OPEN_REVIEW_STATUSES


# Figures -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LevelColumn:
    """One level of a scale as a column of the figures."""

    id: int
    key: str  # level_key: RADPEER's bare code, another scale's "scale:code"
    label: str
    significant: bool


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """Scored reviews of one reader's (the author's) reports, or of one worklist's."""

    key: int
    label: str
    counts: dict[str, int] = field(default_factory=dict)  # per level key
    significant: int = 0
    in_order: tuple[int, ...] = ()  # the counts in the figures' columns' order, 0 where none

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def significant_percent(self) -> Decimal | None:
        """The share of significant discrepancies, in percent to one decimal; None: none
        scored (no share, rather than a misleading 0)."""
        if not self.total:
            return None
        share = Decimal(self.significant * 100) / Decimal(self.total)
        return share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ReviewFigures:
    readers: list[ScoreRow]
    worklists: list[ScoreRow]
    levels: list[LevelColumn] = field(default_factory=list)
    everyone: bool = False  # a coordinator's figures (all readers), else the reader's own

    @property
    def scores(self) -> list[str]:
        return [level.key for level in self.levels]


def level_columns(level_ids: set[int]) -> list[LevelColumn]:
    """The columns: every level of the default scale (RADPEER, the usual case, always shown in
    full), then the other levels scored, scale by scale in the scales' order."""
    default_id = default_scale().id
    levels = (
        ReviewScaleLevel.objects.filter(Q(scale_id=default_id) | Q(id__in=level_ids))
        .select_related("scale")
        .order_by("scale__name", "scale_id", "position", "id")
    )
    ordered = sorted(levels, key=lambda lv: lv.scale_id != default_id)  # stable: default first
    return [
        LevelColumn(
            id=lv.id,
            key=level_key(lv.scale.code, lv.code),
            label=lv.code if lv.scale_id == default_id else f"{lv.scale.name} {lv.code}",
            significant=lv.significant,
        )
        for lv in ordered
    ]


def score_rows(
    found: list[tuple[int, int, int]], label_of: dict[int, str], levels: list[LevelColumn]
) -> list[ScoreRow]:
    """Rows from (group key, level id, count) triples, sorted by label."""
    by_id = {level.id: level for level in levels}
    counts: dict[int, dict[str, int]] = {}
    significant: dict[int, int] = {}
    for key, level_id, n in found:
        level = by_id[level_id]
        counts.setdefault(key, {})[level.key] = counts.get(key, {}).get(level.key, 0) + n
        significant[key] = significant.get(key, 0) + (n if level.significant else 0)
    return sorted(
        (
            ScoreRow(
                key=k,
                label=label_of.get(k, str(k)),
                counts=c,
                significant=significant[k],
                in_order=tuple(c.get(level.key, 0) for level in levels),
            )
            for k, c in counts.items()
        ),
        key=lambda r: (r.label.lower(), r.key),
    )


def grouped_by_level(scored: QuerySet[ReviewTask], key: str) -> list[tuple[int, int, int]]:
    """(group key, level id, count) of the scored reviews: one grouped statement."""
    return list(
        scored.values_list(key, "level_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list(key, "level_id", "n")
    )


def review_figures(
    *,
    viewer: Viewer,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    worklist_id: int | None = None,
) -> ReviewFigures:
    """Scored reviews per reader (the author of the reviewed report) and per worklist: counts
    per level of their scale and the share significant. A coordinator sees every reader in
    their scope; a radiologist their own reports' reviews; anyone else nothing."""
    everyone = viewer.coordinator
    scored = ReviewTask.objects.filter(study__in=viewer.studies, status=ReviewStatus.SCORED)
    if not everyone:
        if viewer.radiologist_id is None:
            return ReviewFigures(readers=[], worklists=[], levels=level_columns(set()))
        scored = scored.filter(author_id=viewer.radiologist_id)
    if since is not None:
        scored = scored.filter(reviewed_at__gte=since)
    if until is not None:
        scored = scored.filter(reviewed_at__lt=until)
    if worklist_id is not None:
        scored = scored.filter(worklist_id=worklist_id)
    names: dict[int, str] = {}
    worklist_names: dict[int, str] = {}
    for author_id, first, last, username, wl_id, wl_name in scored.values_list(
        "author_id",
        "author__user__first_name",
        "author__user__last_name",
        "author__user__username",
        "worklist_id",
        "worklist__name",
    ).distinct():
        names[author_id] = f"{first} {last}".strip() or username
        worklist_names[wl_id] = wl_name
    per_reader = grouped_by_level(scored, "author_id")
    levels = level_columns({level_id for _k, level_id, _n in per_reader})
    return ReviewFigures(
        readers=score_rows(per_reader, names, levels),
        worklists=score_rows(grouped_by_level(scored, "worklist_id"), worklist_names, levels),
        levels=levels,
        everyone=everyone,
    )


def figures_csv_rows(figures: ReviewFigures) -> list[list[str]]:
    """The figures as CSV rows: a header, then one row per reader and per worklist."""
    header = ["group", "name", *(f"score {level.key}" for level in figures.levels)]
    header += ["scored", "significant", "significant %"]
    rows = [header]
    for group, items in (("reader", figures.readers), ("worklist", figures.worklists)):
        for item in items:
            share = item.significant_percent
            rows.append(
                [
                    group,
                    item.label,
                    *(str(n) for n in item.in_order),
                    str(item.total),
                    str(item.significant),
                    "" if share is None else str(share),
                ]
            )
    return rows
