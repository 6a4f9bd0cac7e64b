"""The groupings: which column of a row's study (or which reader) each one is, and its labels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from indicators.periods import GroupBy
from worklists.models import Modality, Priority, Radiologist, Site, Worklist

UNKNOWN = "—"


def group_field(group_by: GroupBy, *, study_path: str, reader_field: str) -> str:
    """The field a query groups by: a column of the study (``study_path`` leads to it) or, for
    readers, ``reader_field`` (the radiologist's id on that row)."""
    return {
        GroupBy.SITE: f"{study_path}site_id",
        GroupBy.MODALITY: f"{study_path}modality",
        GroupBy.WORKLIST: f"{study_path}worklist_id",
        GroupBy.PRIORITY: f"{study_path}priority",
        GroupBy.READER: reader_field,
    }[group_by]


def group_labels(group_by: GroupBy, keys: Iterable[Any]) -> dict[Any, str]:
    """Each key's name, in one query for sites, worklists and readers."""
    wanted = {key for key in keys if key is not None}
    if group_by is GroupBy.SITE:
        names = dict(Site.objects.filter(id__in=wanted).values_list("id", "name"))
    elif group_by is GroupBy.WORKLIST:
        names = dict(Worklist.objects.filter(id__in=wanted).values_list("id", "name"))
    elif group_by is GroupBy.READER:
        names = reader_names(wanted)
    elif group_by is GroupBy.MODALITY:
        names = {key: str(Modality(key).label) for key in wanted if key in Modality.values}
    else:
        names = {key: str(Priority(key).label) for key in wanted if key in Priority.values}
    return {key: names.get(key, str(key) if key is not None else UNKNOWN) for key in keys}


def reader_names(radiologist_ids: Iterable[int]) -> dict[int, str]:
    readers = Radiologist.objects.filter(id__in=set(radiologist_ids)).select_related("user")
    return {reader.id: reader.display_name for reader in readers}


def sort_key(group_by: GroupBy, key: Any, label: str) -> tuple[int, str]:
    """Priorities in their clinical order, everything else by name; the unknown last."""
    if key is None:
        return (99, "")
    if group_by is GroupBy.PRIORITY and key in Priority.values:
        return (Priority.values.index(key), "")
    return (0, label.casefold())
