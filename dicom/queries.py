"""The dicom app's hand-written SQL (DEVELOPERS.md, "One way to write"): the common case of
study assembly, one more instance of a known series of a study whose image state exists and
whose patient has already been checked.

Measured here (PostgreSQL 15, 2 shared cores, bench_queries "dicom": instance_receive of
instances of a known series, 5 alternating rounds of 30): 25 ms per instance with these
statements, 65 ms through the ORM path of ``dicom.services.instances``, ratio 2.8 (median of
the rounds' ratios). This runs once per received instance, on a receiver whose Python work is
serialised by the GIL across associations; compiling the ORM's queries costs more than
executing them.

The statements are few, portable (PostgreSQL, SQLite >= 3.24: both databases run them) and
follow the same rules as the ORM path in ``instances``: the Study row is locked first, the
image state is read after the lock in its own statement, and anything out of the ordinary (new
study, new series, another patient, attributes still to fill in) returns None so that the ORM
path handles it in the same transaction. ``worklists.queries.ORM_INSTEAD`` with
"dicom_fast_path" sends every instance down the ORM path (tests/test_queries_against_orm.py
compares the two; benchmarks/bench_queries.py measures them).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection

from dicom.metadata import InstanceMeta
from dicom.models import DicomInstance, DicomSeries, StudyImages
from worklists import queries
from worklists.models import Study


@dataclass(frozen=True, slots=True)
class FastResult:
    study_id: int
    stored: bool  # False: the same instance was already there
    late: bool


# The image state and, in the same statement, the id of the instance's series (if known).
_SELECT_IMAGES = (
    "SELECT i.id, i.instance_count, i.complete, i.patient_id, i.issuer_of_patient_id, "
    "i.modalities, i.body_part, i.description, i.institution, i.procedure_codes, "
    "i.late_instance_count, i.last_instance_at, (SELECT s.id FROM {series} s "
    "WHERE s.images_id = i.id AND s.series_instance_uid = %s) "
    "FROM {images} i WHERE i.study_id = %s"
)


def fast_path_enabled() -> bool:
    return "dicom_fast_path" not in queries.ORM_INSTEAD


def _table(model: Any) -> str:
    name: str = connection.ops.quote_name(model._meta.db_table)
    return name


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _json_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, list) else []
    return list(value)


def receive_known_series(
    *, site_id: int, meta: InstanceMeta, received_at: dt.datetime, storage_path: str, calling: str
) -> FastResult | None:
    """Record the instance if this is the common case; None otherwise. The caller owns the
    transaction."""
    adapt = connection.ops.adapt_datetimefield_value
    study_table = _table(Study)
    with connection.cursor() as cursor:
        if meta.accession_number:
            cursor.execute(
                f"SELECT id, ready_at FROM {study_table} "  # noqa: S608 (names, not input)
                f"WHERE site_id = %s AND accession_number = %s{_for_update()}",
                [site_id, meta.accession_number],
            )
        else:
            cursor.execute(
                f"SELECT id, ready_at FROM {study_table} "  # noqa: S608
                f"WHERE site_id = %s AND study_instance_uid = %s "
                f"ORDER BY id LIMIT 1{_for_update()}",
                [site_id, meta.study_instance_uid],
            )
        study_row = cursor.fetchone()
        if study_row is None:
            return None
        study_id, ready_at = study_row
        select = _SELECT_IMAGES.format(images=_table(StudyImages), series=_table(DicomSeries))
        cursor.execute(select, [meta.series_instance_uid, study_id])
        images_row = cursor.fetchone()
        if images_row is None:
            return None
        (
            images_id,
            instance_count,
            complete,
            patient_id,
            issuer,
            modalities,
            body_part,
            description,
            institution,
            procedure_codes,
            late_count,
            last_instance_at,
            series_id,
        ) = images_row
        if (patient_id, issuer) != (meta.patient_id, meta.issuer_of_patient_id):
            return None  # the ORM path decides about a patient mismatch
        known_modalities = _json_list(modalities)
        wanted = [m for m in (meta.modality, *meta.modalities_in_study) if m]
        if any(m not in known_modalities for m in wanted):
            return None
        if (
            (meta.body_part and not body_part)
            or (meta.study_description and not description)
            or (meta.institution and not institution)
            or (meta.procedure_codes and not _json_list(procedure_codes))
        ):
            return None
        if series_id is None:
            return None
        late = ready_at is not None
        cursor.execute(
            f"INSERT INTO {_table(DicomInstance)} (images_id, series_id, sop_instance_uid, "  # noqa: S608
            "sop_class_uid, transfer_syntax_uid, received_at, calling_ae_title, is_late, "
            "storage_path) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (images_id, sop_instance_uid) DO NOTHING",
            [
                images_id,
                series_id,
                meta.sop_instance_uid,
                meta.sop_class_uid,
                meta.transfer_syntax_uid,
                adapt(received_at),
                calling[:16],
                late,
                storage_path,
            ],
        )
        if cursor.rowcount == 0:
            # The same instance sent again: counted once.
            return FastResult(study_id=study_id, stored=False, late=late)
        if isinstance(last_instance_at, str):
            # SQLite hands back text; the stored value is UTC.
            last_instance_at = dt.datetime.fromisoformat(last_instance_at).replace(tzinfo=dt.UTC)
        elif last_instance_at is not None and last_instance_at.tzinfo is None:
            last_instance_at = last_instance_at.replace(tzinfo=dt.UTC)
        last = max(last_instance_at, received_at) if last_instance_at else received_at
        # More images before the study was opened: it waits for another quiet period.
        still_complete = bool(complete) and late
        cursor.execute(
            f"UPDATE {_table(StudyImages)} SET instance_count = %s, "  # noqa: S608
            "last_instance_at = %s, late_instance_count = %s, "
            "last_late_at = CASE WHEN %s THEN %s ELSE last_late_at END, "
            "complete = %s, completed_at = CASE WHEN %s THEN completed_at ELSE NULL END "
            "WHERE id = %s",
            [
                instance_count + 1,
                adapt(last),
                late_count + int(late),
                late,
                adapt(received_at),
                still_complete,
                still_complete,
                images_id,
            ],
        )
    return FastResult(study_id=study_id, stored=True, late=late)
