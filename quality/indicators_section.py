"""Peer review's section of the indicators page, its CSV and API (indicators.sections, a hook:
indicators imports nothing of quality).

Scored reviews of the period (by when they were scored), per reader (the author of the reviewed
report) and per worklist: counts per level of the scales, how many were significant and their
share. Scoped as the page's own tables: the viewer's sites (indicators.scope.Viewer); per-reader
rows for a coordinator (every reader) or a reader (their own), none for a site's users."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from indicators.groups import reader_names
from indicators.periods import Period
from indicators.scope import Viewer
from indicators.sections import Section
from indicators.tables import Column, Table, share
from quality.models import ReviewStatus, ReviewTask
from quality.selectors import LevelColumn, ScoreRow, grouped_by_level, level_columns, score_rows
from worklists.models import Worklist

READERS = "peer_review_readers"
WORKLISTS = "peer_review_worklists"


def peer_review_tables(viewer: Viewer, period: Period) -> list[Table]:
    scored = ReviewTask.objects.filter(
        viewer.sites_q("study__"),
        status=ReviewStatus.SCORED,
        reviewed_at__gte=period.start,
        reviewed_at__lt=period.end,
    )
    per_worklist = grouped_by_level(scored, "worklist_id")
    per_reader = (
        grouped_by_level(scored.filter(viewer.readers_q("author_id")), "author_id")
        if viewer.sees_readers
        else []
    )
    levels = level_columns({level_id for _k, level_id, _n in (*per_worklist, *per_reader)})
    worklist_names = _worklist_names({key for key, _l, _n in per_worklist})
    tables = []
    if viewer.sees_readers:
        readers = score_rows(per_reader, reader_names(k for k, _l, _n in per_reader), levels)
        tables.append(
            _table(
                READERS,
                _("Peer review per reader"),
                _("Reader"),
                readers,
                levels,
                _("The reader is the author of the reviewed report; scored in the period."),
            )
        )
    worklists = score_rows(per_worklist, worklist_names, levels)
    tables.append(
        _table(
            WORKLISTS,
            _("Peer review per worklist"),
            _("Worklist"),
            worklists,
            levels,
            _("Reviews scored in the period, of every reader's reports in your scope."),
        )
    )
    return tables


def _worklist_names(ids: set[int]) -> dict[int, str]:
    found: QuerySet[Worklist] = Worklist.objects.filter(id__in=ids)
    return dict(found.values_list("id", "name"))


def _table(
    key: str,
    title: str,
    group_label: str,
    rows: list[ScoreRow],
    levels: list[LevelColumn],
    note: str,
) -> Table:
    significant = ", ".join(level.label for level in levels if level.significant)
    columns = [
        Column("group", group_label),
        *(Column(f"score_{level.key}", level.label, "count", verbatim=True) for level in levels),
        Column("scored", _("Scored"), "count"),
        Column("significant", _("Significant"), "count"),
        Column("significant_share", _("Share significant"), "share"),
    ]
    shown = [
        {
            "group": row.label,
            **{f"score_{level.key}": n for level, n in zip(levels, row.in_order, strict=True)},
            "scored": row.total,
            "significant": row.significant,
            "significant_share": share(row.significant, row.total),
        }
        for row in rows
    ]
    full_note = f"{note} " + _("Significant discrepancies: %(levels)s.") % {"levels": significant}
    return Table(key, title, columns, shown, full_note)


SECTION = Section(
    name="peer-review",
    tables=peer_review_tables,
    template="quality/_indicators_section.html",
    table_keys=frozenset({READERS, WORKLISTS}),
)
