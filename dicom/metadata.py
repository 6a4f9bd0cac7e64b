"""What one received instance says about its study, read from the dataset. Pure: no ORM.

Only the attributes the platform uses are read; pydicom decodes elements lazily, so the pixel
data of a large image is never converted.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

# A DICOM UID: dot-separated numbers, at most 64 characters. Checked strictly because UIDs
# become file names under DICOM_STORAGE_DIR.
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")

# Issuers that mean "the national population register": a PatientID under one of these (or
# under no issuer at all) that is a valid national number is the person's national number.
NATIONAL_ISSUERS = frozenset(
    {
        "",
        "NO-FREG",
        "FREG",
        "2.16.578.1.12.4.1.4.1",  # OID of the Norwegian fødselsnummer
        "2.16.578.1.12.4.1.4.2",  # OID of the Norwegian D-nummer
    }
)


class InvalidInstance(ValueError):
    """The instance lacks what a study needs; the message says why (it is logged and kept)."""


class UndecodableInstance(InvalidInstance):
    """The bytes are not a dataset that can be read at all."""


@dataclass(frozen=True, slots=True)
class ProcedureCode:
    code: str
    scheme: str
    meaning: str


@dataclass(frozen=True, slots=True)
class InstanceMeta:
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    accession_number: str
    modality: str
    patient_id: str
    issuer_of_patient_id: str
    family_name: str
    given_name: str
    birth_date: dt.date | None
    sex: str
    study_date: dt.date | None
    study_time: dt.time | None
    study_description: str
    series_description: str
    series_number: int | None
    body_part: str
    institution: str
    procedure_codes: tuple[ProcedureCode, ...]
    modalities_in_study: tuple[str, ...]

    def study_datetime(self, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
        """StudyDate/StudyTime, which DICOM states in the site's local time."""
        if self.study_date is None:
            return None
        return dt.datetime.combine(self.study_date, self.study_time or dt.time(0), tzinfo=zone)


_IDENTIFYING = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


def is_valid_uid(value: str) -> bool:
    return 0 < len(value) <= 64 and _UID.match(value) is not None


def _text(ds: Dataset, keyword: str, limit: int) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def _date(ds: Dataset, keyword: str) -> dt.date | None:
    raw = _text(ds, keyword, 8)
    try:
        return dt.datetime.strptime(raw, "%Y%m%d").date()  # noqa: DTZ007 (a date, no zone)
    except ValueError:
        return None


def _time(ds: Dataset, keyword: str) -> dt.time | None:
    # TM is HH, HHMM or HHMMSS with optional fraction (old files: HH:MM:SS). Read by position:
    # strptime would take "0330" for 03:03:00.
    raw = _text(ds, keyword, 16).split(".")[0].replace(":", "")
    if len(raw) not in (2, 4, 6) or not raw.isdigit():
        return None
    hour, minute, second = (int(raw[i : i + 2] or 0) for i in (0, 2, 4))
    try:
        return dt.time(hour, minute, second)
    except ValueError:
        return None


def _int(ds: Dataset, keyword: str) -> int | None:
    value: Any = ds.get(keyword)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _uid(ds: Dataset, keyword: str, fallback: str = "") -> str:
    value = _text(ds, keyword, 200) or fallback.strip()
    if not value:
        raise InvalidInstance(f"{keyword} is missing")
    if not is_valid_uid(value):
        raise InvalidInstance(f"{keyword} {value[:70]!r} is not a valid UID")
    return value


def _procedure_codes(ds: Dataset) -> tuple[ProcedureCode, ...]:
    codes = []
    for item in ds.get("ProcedureCodeSequence") or ():
        code = _text(item, "CodeValue", 32)
        if code:
            codes.append(
                ProcedureCode(
                    code=code,
                    scheme=_text(item, "CodingSchemeDesignator", 32),
                    meaning=_text(item, "CodeMeaning", 200),
                )
            )
    return tuple(codes)


def _name(ds: Dataset) -> tuple[str, str]:
    raw = _text(ds, "PatientName", 300)
    # PN: family^given^middle^prefix^suffix; "=" separates ideographic/phonetic forms.
    parts = raw.split("=")[0].split("^")
    family = parts[0].strip()
    given = " ".join(p.strip() for p in parts[1:3] if p.strip())
    return family[:100], given[:100]


def parse_instance(
    ds: Dataset, *, sop_class_uid: str = "", sop_instance_uid: str = "", transfer_syntax: str = ""
) -> InstanceMeta:
    """The instance's metadata; InvalidInstance if it lacks what a study needs.

    ``sop_class_uid`` and ``sop_instance_uid`` are the C-STORE request's Affected SOP Class and
    Instance UIDs, used when the dataset omits them.
    """
    try:
        if not any(keyword in ds for keyword in _IDENTIFYING):
            # pydicom reads almost any bytes leniently into a few odd elements; a dataset with
            # none of these is not an instance at all.
            raise UndecodableInstance(
                "not a DICOM dataset: none of " + ", ".join(_IDENTIFYING) + " could be read"
            )
        family_name, given_name = _name(ds)
        sex = _text(ds, "PatientSex", 1).upper()
        modalities = ds.get("ModalitiesInStudy") or ()
        if isinstance(modalities, str):
            modalities = modalities.split("\\")
        return InstanceMeta(
            study_instance_uid=_uid(ds, "StudyInstanceUID"),
            series_instance_uid=_uid(ds, "SeriesInstanceUID"),
            sop_instance_uid=_uid(ds, "SOPInstanceUID", sop_instance_uid),
            sop_class_uid=_uid(ds, "SOPClassUID", sop_class_uid),
            transfer_syntax_uid=transfer_syntax,
            accession_number=_text(ds, "AccessionNumber", 64),
            modality=_text(ds, "Modality", 16).upper(),
            patient_id=_text(ds, "PatientID", 64),
            issuer_of_patient_id=_text(ds, "IssuerOfPatientID", 64),
            family_name=family_name,
            given_name=given_name,
            birth_date=_date(ds, "PatientBirthDate"),
            sex=sex if sex in {"M", "F", "O"} else "U",
            study_date=_date(ds, "StudyDate"),
            study_time=_time(ds, "StudyTime"),
            study_description=_text(ds, "StudyDescription", 300),
            series_description=_text(ds, "SeriesDescription", 300),
            series_number=_int(ds, "SeriesNumber"),
            body_part=_text(ds, "BodyPartExamined", 64).upper(),
            institution=_text(ds, "InstitutionName", 200),
            procedure_codes=_procedure_codes(ds),
            modalities_in_study=tuple(str(m).strip().upper() for m in modalities if str(m)),
        )
    except InvalidInstance:
        raise
    except Exception as exc:
        # pydicom raises many kinds of errors for bytes that are not DICOM; the sender gets
        # one answer: this is not an instance we can read.
        raise UndecodableInstance(f"the dataset cannot be decoded: {exc}") from exc
