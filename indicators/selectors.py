"""Every indicator of a period, as the tables the page, its CSV and the API show.

A fixed number of grouped statements, whatever the number of studies: the page's query count
does not grow with the data (tests/test_indicators.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.utils.translation import gettext as _

from indicators import quality, sections, turnaround, variation, workload
from indicators.aggregates import room_to_sort
from indicators.groups import group_labels, reader_names, sort_key
from indicators.periods import GroupBy, Period
from indicators.scope import Viewer
from indicators.tables import Column, Table, minutes, share
from reports.double_reading_selectors import reader_figures_of
from reports.models import IndependentRead, RejectionReason
from worklists.models import Site, Worklist


@dataclasses.dataclass(slots=True)
class Indicators:
    period: Period
    group_by: GroupBy
    tables: list[Table]

    def table(self, key: str) -> Table:
        return next(table for table in self.tables if table.key == key)


def indicators(*, viewer: Viewer, period: Period, group_by: GroupBy | str) -> Indicators:
    # One transaction, its sorts in memory (aggregates.room_to_sort): also one snapshot, so the
    # tables agree with each other.
    with room_to_sort():
        return _indicators(viewer=viewer, period=period, group_by=GroupBy(group_by))


def _indicators(*, viewer: Viewer, period: Period, group_by: GroupBy) -> Indicators:
    if group_by is GroupBy.READER and not viewer.sees_readers:
        group_by = GroupBy.SITE  # a site's user sees no reader's figures
    # Every site's turnaround: the regional figure's ground, and a coordinator's own figures by
    # site (the costliest statement, so asked once).
    everywhere = turnaround.turnaround(None, period, GroupBy.SITE)
    if viewer.site_ids is None and group_by is GroupBy.SITE:
        mine = everywhere
    else:
        mine = turnaround.turnaround(viewer, period, group_by)
    tables = [
        sites_table(viewer, everywhere),
        priorities_table(viewer, period),
        turnaround_table(group_by, mine),
        volumes_table(viewer, period, group_by, signed=mine),
        returned_table(viewer, period),
        low_value_table(viewer, period),
        escalations_table(viewer, period, group_by),
        critical_table(viewer, period, group_by),
        amendments_table(viewer, period, group_by, signed=mine),
    ]
    signed = workload.signed_work(viewer, period) if viewer.sees_readers else {}
    if viewer.sees_readers:
        tables.append(readers_table(viewer, period, signed))
        tables.append(double_reading_table(viewer, period))
    if viewer.coordinator:
        tables.append(fairness_table(period, signed))
    tables.extend(sections.section_tables(viewer, period))  # other apps' (peer review)
    return Indicators(period=period, group_by=group_by, tables=tables)


def _rows(
    group_by: GroupBy, found: dict[Any, dict[str, Any]]
) -> list[tuple[Any, str, dict[str, Any]]]:
    """(key, label, figures) per group, in display order."""
    labels = group_labels(group_by, found)
    ordered = sorted(found, key=lambda key: sort_key(group_by, key, labels[key]))
    return [(key, labels[key], found[key]) for key in ordered]


def _group_column(group_by: GroupBy) -> Column:
    return Column("group", group_by.label)


def _spans(row: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{name}_{q}": minutes(row[f"{name}_{q}"])
        for name in turnaround.SPANS
        for q in ("p50", "p90")
    }


def turnaround_table(group_by: GroupBy, found: dict[Any, dict[str, Any]]) -> Table:
    """``found``: turnaround.turnaround for the viewer, by ``group_by``."""
    rows = [
        {
            "group": label,
            "signed": row["signed"],
            **_spans(row),
            "with_preliminary": row["with_preliminary"],
            "within_deadline": share(row["within_deadline"], row["with_deadline"]),
            "cancer_within_deadline": share(
                row["cancer_within_deadline"], row["cancer_with_deadline"]
            ),
        }
        for _key, label, row in _rows(group_by, found)
    ]
    columns = [
        _group_column(group_by),
        Column("signed", _("Signed final"), "count"),
        Column("order_to_final_p50", _("Order → final, median (min)"), "minutes"),
        Column("order_to_final_p90", _("Order → final, 90th pct (min)"), "minutes"),
        Column("ready_to_final_p50", _("Ready → final, median (min)"), "minutes"),
        Column("ready_to_final_p90", _("Ready → final, 90th pct (min)"), "minutes"),
        Column("ready_to_opened_p50", _("Ready → first opened, median (min)"), "minutes"),
        Column("ready_to_opened_p90", _("Ready → first opened, 90th pct (min)"), "minutes"),
        Column("with_preliminary", _("With preliminary"), "count"),
        Column("preliminary_to_final_p50", _("Preliminary → final, median (min)"), "minutes"),
        Column("preliminary_to_final_p90", _("Preliminary → final, 90th pct (min)"), "minutes"),
        Column("within_deadline", _("Within deadline"), "share"),
        Column("cancer_within_deadline", _("Cancer pathway within deadline"), "share"),
    ]
    return Table("turnaround", _("Turnaround"), columns, rows)


def volumes_table(
    viewer: Viewer, period: Period, group_by: GroupBy, *, signed: dict[Any, dict[str, Any]]
) -> Table:
    """``signed``: turnaround.turnaround for the viewer, by ``group_by`` (its finals)."""
    finals = {key: row["signed"] for key, row in signed.items()}
    found = turnaround.volumes(viewer, period, group_by, signed=finals)
    rows = [{"group": label, **row} for _key, label, row in _rows(group_by, found)]
    columns = [
        _group_column(group_by),
        Column("received", _("Ordered"), "count"),
        Column("reported", _("Signed final"), "count"),
        Column("cancelled", _("Cancelled"), "count"),
        Column("returned", _("Returned"), "count"),
    ]
    note = (
        _("Grouped by reader: the events each reader recorded.")
        if (group_by is GroupBy.READER)
        else ""
    )
    return Table("volumes", _("Volumes"), columns, rows, note)


def sites_table(viewer: Viewer, everywhere: dict[Any, dict[str, Any]]) -> Table:
    """Each site the viewer sees beside the regional figure (the median over all sites):
    ``everywhere`` is every site's turnaround."""
    regional_median, regional_share = variation.regional_for(viewer.site_ids, everywhere)
    mine = (
        everywhere
        if viewer.site_ids is None
        else {key: row for key, row in everywhere.items() if key in viewer.site_ids}
    )
    rows = []
    for _key, label, row in _rows(GroupBy.SITE, mine):
        within = share(row["within_deadline"], row["with_deadline"])
        reasons = variation.outlier_reasons(
            median=row["ready_to_final_p50"],
            within_share=within,
            regional_median=regional_median,
            regional_share=regional_share,
        )
        rows.append(
            {
                "group": label,
                "signed": row["signed"],
                "ready_to_final_p50": minutes(row["ready_to_final_p50"]),
                "regional_p50": minutes(regional_median),
                "within_deadline": within,
                "regional_within_deadline": regional_share,
                "outlier": ", ".join(_outlier_words()[r] for r in reasons),
                "outlier_codes": reasons,
            }
        )
    columns = [
        Column("group", _("Site")),
        Column("signed", _("Signed final"), "count"),
        Column("ready_to_final_p50", _("Ready → final, median (min)"), "minutes"),
        Column("regional_p50", _("Regional median (min)"), "minutes"),
        Column("within_deadline", _("Within deadline"), "share"),
        Column("regional_within_deadline", _("Regional within deadline"), "share"),
        Column("outlier", _("Stands out")),
    ]
    note = _(
        "Regional: the median over all sites of their figures. Marked: a median at least "
        "%(factor)s times the regional one, or a within-deadline share %(points)d points or "
        "more below it."
    ) % {"factor": variation.SLOW_FACTOR, "points": round(variation.SHARE_SHORTFALL * 100)}
    return Table("sites", _("Sites against the region"), columns, rows, note)


def _outlier_words() -> dict[str, str]:
    return {"slow": _("slow"), "late": _("often late")}


def priorities_table(viewer: Viewer, period: Period) -> Table:
    # Only the ready -> final span is shown here: one sort of the period's rows, not four.
    found = turnaround.turnaround(viewer, period, GroupBy.PRIORITY, spans=("ready_to_final",))
    rows = [
        {
            "group": label,
            "signed": row["signed"],
            "with_deadline": row["with_deadline"],
            "within": row["within_deadline"],
            "within_deadline": share(row["within_deadline"], row["with_deadline"]),
            "ready_to_final_p50": minutes(row["ready_to_final_p50"]),
            "ready_to_final_p90": minutes(row["ready_to_final_p90"]),
        }
        for _key, label, row in _rows(GroupBy.PRIORITY, found)
    ]
    columns = [
        Column("group", _("Priority")),
        Column("signed", _("Signed final"), "count"),
        Column("with_deadline", _("With a deadline"), "count"),
        Column("within", _("Within deadline"), "count"),
        Column("within_deadline", _("Share within deadline"), "share"),
        Column("ready_to_final_p50", _("Ready → final, median (min)"), "minutes"),
        Column("ready_to_final_p90", _("Ready → final, 90th pct (min)"), "minutes"),
    ]
    return Table("priorities", _("Deadlines by priority"), columns, rows)


def returned_table(viewer: Viewer, period: Period) -> Table:
    found = quality.returned_referrals(viewer, period)
    names = dict(
        Site.objects.filter(id__in={row["site_id"] for row in found}).values_list("id", "name")
    )
    rows = [
        {
            "group": names[row["site_id"]],
            "reason": str(RejectionReason(row["reason"]).label),
            "returned": row["returned"],
        }
        for row in found
    ]
    rows.sort(key=lambda row: (row["group"].casefold(), row["reason"]))
    columns = [
        Column("group", _("Site")),
        Column("reason", _("Reason")),
        Column("returned", _("Returned referrals"), "count"),
    ]
    return Table("returned", _("Returned referrals by site and reason"), columns, rows)


def low_value_table(viewer: Viewer, period: Period) -> Table:
    found = quality.low_value_referrals(viewer, period)
    names = dict(Site.objects.filter(id__in={r.site_id for r in found}).values_list("id", "name"))
    rows: list[dict[str, Any]] = [
        {
            "group": names[r.site_id],
            "rule": r.rule_name or _("Rule %(id)s") % {"id": r.rule_id},
            "flagged": r.flagged,
            "returned": r.returned,
            "returned_share": share(r.returned, r.flagged),
        }
        for r in found
    ]
    rows.sort(key=lambda row: (row["group"].casefold(), row["rule"].casefold()))
    columns = [
        Column("group", _("Site")),
        Column("rule", _("Rule")),
        Column("flagged", _("Flagged at intake"), "count"),
        Column("returned", _("Returned after the flag"), "count"),
        Column("returned_share", _("Share returned"), "share"),
    ]
    note = _(
        "Orders a low-value rule flagged in the period, and those of them whose referral was "
        "returned after the flag, whenever it was returned."
    )
    return Table("low_value", _("Low-value referrals by site and rule"), columns, rows, note)


def escalations_table(viewer: Viewer, period: Period, group_by: GroupBy) -> Table:
    # Nobody reads a study while it escalates: by reader, escalations are shown per site.
    grouping = GroupBy.SITE if group_by is GroupBy.READER else group_by
    found = quality.escalations(viewer, period, grouping)
    rows = [{"group": label, **row} for _key, label, row in _rows(grouping, found)]
    columns = [
        _group_column(grouping),
        Column("tier1", _("Tier 1: backup readers"), "count"),
        Column("tier2", _("Tier 2: every competent reader"), "count"),
        Column("tier3", _("Tier 3: coordinators alerted"), "count"),
    ]
    return Table("escalations", _("Escalations by tier"), columns, rows)


def critical_table(viewer: Viewer, period: Period, group_by: GroupBy) -> Table:
    found = quality.critical_findings(viewer, period, group_by)
    rows = [
        {
            "group": label,
            **{k: row[k] for k in ("flagged", "red", "orange", "yellow", "communicated")},
            "to_communication_p50": minutes(row["to_communication_p50"]),
            "to_communication_p90": minutes(row["to_communication_p90"]),
        }
        for _key, label, row in _rows(group_by, found)
    ]
    columns = [
        _group_column(group_by),
        Column("flagged", _("Critical findings"), "count"),
        Column("red", _("Red"), "count"),
        Column("orange", _("Orange"), "count"),
        Column("yellow", _("Yellow"), "count"),
        Column("communicated", _("Communicated"), "count"),
        Column("to_communication_p50", _("To communication, median (min)"), "minutes"),
        Column("to_communication_p90", _("To communication, 90th pct (min)"), "minutes"),
    ]
    return Table("critical", _("Critical findings"), columns, rows)


def amendments_table(
    viewer: Viewer, period: Period, group_by: GroupBy, *, signed: dict[Any, dict[str, Any]]
) -> Table:
    """``signed``: turnaround.turnaround for the viewer, by ``group_by`` (its finals)."""
    finals = {key: row["signed"] for key, row in signed.items()}
    found = quality.amendments(viewer, period, group_by, finals=finals)
    rows = []
    for _key, label, row in _rows(group_by, found):
        per_100 = share(100, row["finals"])
        rows.append(
            {
                "group": label,
                **row,
                "addenda_per_100": None if per_100 is None else row["addenda"] * per_100,
                "corrections_per_100": None if per_100 is None else row["corrections"] * per_100,
            }
        )
    columns = [
        _group_column(group_by),
        Column("finals", _("Final reports"), "count"),
        Column("addenda", _("Addenda"), "count"),
        Column("corrections", _("Corrections"), "count"),
        Column("addenda_per_100", _("Addenda per 100 reports"), "number"),
        Column("corrections_per_100", _("Corrections per 100 reports"), "number"),
    ]
    return Table("amendments", _("Addenda and corrections"), columns, rows)


def readers_table(
    viewer: Viewer, period: Period, signed: dict[tuple[int | None, int], dict[str, Any]]
) -> Table:
    """Per reader: work units per shift hour, and their share of the heavy and the STAT studies
    against their share of the hours (shares of all readers' totals). ``signed`` is
    workload.signed_work for the viewer."""
    hours = workload.shift_hours(period)
    work = workload.reader_work(signed)
    readers = set(hours) | set(work)
    nothing: dict[str, Any] = {"signed": 0, "work_units": 0, "heavy": 0, "stat": 0}
    total_hours = sum(hours.values())
    total_heavy = sum(row["heavy"] for row in work.values())
    total_stat = sum(row["stat"] for row in work.values())
    names = reader_names(r for r in readers if viewer.may_see_reader(r))
    rows = []
    for reader in sorted(names, key=lambda r: names[r].casefold()):
        done = work.get(reader, nothing)
        reader_hours = hours.get(reader, 0.0)
        rows.append(
            {
                "group": names[reader],
                "shift_hours": round(reader_hours, 1),
                "signed": done["signed"],
                "work_units": float(done["work_units"] or 0),
                "per_hour": (float(done["work_units"] or 0) / reader_hours)
                if reader_hours
                else None,
                "hours_share": share(reader_hours, total_hours),
                "heavy": done["heavy"],
                "heavy_share": share(done["heavy"], total_heavy),
                "stat": done["stat"],
                "stat_share": share(done["stat"], total_stat),
            }
        )
    columns = [
        Column("group", _("Reader")),
        Column("shift_hours", _("Shift hours"), "number"),
        Column("signed", _("Signed final"), "count"),
        Column("work_units", _("Work units"), "number"),
        Column("per_hour", _("Work units per shift hour"), "ratio"),
        Column("hours_share", _("Share of hours"), "share"),
        Column("heavy", _("Heavy studies"), "count"),
        Column("heavy_share", _("Share of heavy studies"), "share"),
        Column("stat", _("STAT studies"), "count"),
        Column("stat_share", _("Share of STAT studies"), "share"),
    ]
    note = _("Heavy: %(units)s work units or more. Shares are of all readers' totals.") % {
        "units": workload.high_work_units()
    }
    return Table("readers", _("Work per reader"), columns, rows, note)


def double_reading_table(viewer: Viewer, period: Period) -> Table:
    """Per reader, of the independent reads of double reading signed in the period: the share
    recalled, and the share whose pair disagreed (went to arbitration) of those compared
    (reports.double_reading_selectors.reader_figures_of, the one definition)."""
    reads = IndependentRead.objects.filter(
        viewer.sites_q("double_read__study__"),
        viewer.readers_q("radiologist_id"),
        signed_at__gte=period.start,
        signed_at__lt=period.end,
    )
    rows = [
        {
            "group": f.name,
            "reads": f.reads,
            "recalls": f.recalls,
            "recall_rate": f.recall_rate,
            "compared": f.compared,
            "disagreements": f.disagreements,
            "disagreement_rate": f.disagreement_rate,
        }
        for f in reader_figures_of(reads)
    ]
    columns = [
        Column("group", _("Reader")),
        Column("reads", _("Independent reads"), "count"),
        Column("recalls", _("Recalled"), "count"),
        Column("recall_rate", _("Recall rate"), "share"),
        Column("compared", _("Compared with the other read"), "count"),
        Column("disagreements", _("Disagreed"), "count"),
        Column("disagreement_rate", _("Disagreement rate"), "share"),
    ]
    note = _(
        "Double reading: reads signed in the period. Disagreement is of the reads whose pair "
        "was compared; a disagreement went to arbitration."
    )
    return Table("double_reading", _("Double reading per reader"), columns, rows, note)


def fairness_table(period: Period, signed: dict[tuple[int | None, int], dict[str, Any]]) -> Table:
    """Per worklist: the spread of work units per shift hour between its readers. ``signed``
    is workload.signed_work for the viewer."""
    hours = workload.shift_hours_per_worklist(period)
    work = workload.worklist_reader_work(signed)
    rates: dict[int, list[float]] = {}
    for (worklist_id, reader), reader_hours in hours.items():
        if reader_hours > 0:
            units = float(work.get((worklist_id, reader), 0))
            rates.setdefault(worklist_id, []).append(units / reader_hours)
    names = dict(Worklist.objects.filter(id__in=rates).values_list("id", "name"))
    rows = []
    for worklist_id in sorted(rates, key=lambda w: names[w].casefold()):
        found = workload.spread(rates[worklist_id])
        rows.append({"group": names[worklist_id], **dataclasses.asdict(found)})
    columns = [
        Column("group", _("Worklist")),
        Column("readers", _("Readers on shift"), "count"),
        Column("lowest", _("Lowest work units per hour"), "ratio"),
        Column("median", _("Median work units per hour"), "ratio"),
        Column("highest", _("Highest work units per hour"), "ratio"),
        Column("variation", _("Variation (SD / mean)"), "ratio"),
    ]
    return Table("fairness", _("Spread of work between readers"), columns, rows)
