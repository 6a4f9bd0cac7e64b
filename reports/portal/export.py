"""The portal's rows as CSV: the table's columns, times on the site's clock."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from reports.portal.selectors import PortalFilters, PortalRow
from worklists.models import Site

COLUMNS = (
    "accession_number",
    "patient_name",
    "patient_identifiers",
    "birth_date",
    "modality",
    "procedure",
    "priority",
    "ordered_at",
    "ready_at",
    "state",
    "report_status",
    "report_signed_at",
    "report_signed_by",
    "delivery_status",
    "delivery_error",
    "returned_reason",
    "returned_comment",
)

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _time(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""


def csv_values(row: PortalRow, *, zone: zoneinfo.ZoneInfo) -> list[str]:
    study = row.study
    values = [
        study.accession_number,
        row.patient.display_name,
        " ".join(f"{i.kind}:{i.value}" for i in row.identifiers),
        row.patient.birth_date.isoformat() if row.patient.birth_date else "",
        study.modality,
        study.procedure_text,
        study.priority,
        _time(study.ordered_at, zone),
        _time(study.ready_at, zone),
        row.state.value,
        row.report.status.value,
        _time(row.report.signed_at, zone),
        row.report.signer_name,
        row.delivery.status.value,
        row.delivery.last_error if row.delivery.needs_attention else "",
        row.rejection.reason if row.rejection else "",
        row.rejection.comment if row.rejection else "",
    ]
    return [_cell(v) for v in values]


def filename(*, site: Site, filters: PortalFilters) -> str:
    start = filters.date_from.isoformat() if filters.date_from else "start"
    end = filters.date_to.isoformat() if filters.date_to else "now"
    return f"{site.code}-studies-{start}-{end}.csv"
