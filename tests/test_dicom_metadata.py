"""Reading an instance's metadata (pure) and naming its patient by the order-ingest rules."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom.metadata import InvalidInstance, UndecodableInstance, is_valid_uid, parse_instance
from dicom.services.identity import patient_identity
from dicom.services.storage import instance_relative_path
from tests import factories
from tests.dicom_support import instance, new_uid


def minimal(**attributes: object) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = "1.2.3.4"
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def test_it_reads_the_study_level_attributes_of_a_bundled_ct():
    meta = parse_instance(instance(study_uid="1.2.3", accession="A1", patient_id="P1"))

    assert (meta.study_instance_uid, meta.accession_number, meta.modality) == ("1.2.3", "A1", "CT")
    assert (meta.family_name, meta.given_name) == ("CompressedSamples", "CT1")
    assert meta.institution == "JFK IMAGING CENTER"
    assert meta.study_date == dt.date(2004, 1, 19)
    assert meta.study_time == dt.time(7, 27, 30)


def test_study_date_and_time_are_the_sites_local_time_across_dst():
    oslo = zoneinfo.ZoneInfo("Europe/Oslo")
    # 29 March 2026: clocks go from 02:00 to 03:00 local time.
    before = parse_instance(minimal(StudyDate="20260329", StudyTime="013000.123"))
    after = parse_instance(minimal(StudyDate="20260329", StudyTime="0330"))

    assert before.study_datetime(oslo) == dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
    assert after.study_datetime(oslo) == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)


def test_procedure_codes_and_modalities_in_study_are_kept():
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "NCRP-CT", "NCRP", "CT caput"
    meta = parse_instance(
        minimal(ProcedureCodeSequence=Sequence([code]), ModalitiesInStudy=["CT", "SR"])
    )

    assert [(c.code, c.scheme, c.meaning) for c in meta.procedure_codes] == [
        ("NCRP-CT", "NCRP", "CT caput")
    ]
    assert meta.modalities_in_study == ("CT", "SR")


def test_the_request_supplies_a_sop_instance_uid_the_dataset_lacks():
    ds = minimal()
    del ds.SOPInstanceUID

    assert parse_instance(ds, sop_instance_uid="9.8.7").sop_instance_uid == "9.8.7"


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("StudyInstanceUID", None, "StudyInstanceUID is missing"),
        ("SeriesInstanceUID", None, "SeriesInstanceUID is missing"),
        ("StudyInstanceUID", "1.2.3/../../etc", "is not a valid UID"),
        ("SeriesInstanceUID", "1." + "2" * 70, "is not a valid UID"),
    ],
)
def test_an_instance_without_valid_uids_is_refused_with_the_reason(keyword, value, message):
    ds = minimal()
    if value is None:
        delattr(ds, keyword)
    else:
        setattr(ds, keyword, value)

    with pytest.raises(InvalidInstance, match=message.replace(".", r"\.")):
        parse_instance(ds)


def test_a_dataset_with_nothing_identifying_is_undecodable():
    ds = Dataset()
    ds.PatientName = "Nobody"

    with pytest.raises(UndecodableInstance, match="not a DICOM dataset"):
        parse_instance(ds)


def test_uids_are_digits_and_dots_so_they_are_safe_file_names():
    assert is_valid_uid("1.2.840.10008.1.2")
    assert not is_valid_uid("..")
    assert not is_valid_uid("1..2")
    assert not is_valid_uid("1.2/3")
    meta = parse_instance(minimal())
    assert str(instance_relative_path(meta)) == "1.2.3/1.2.3.4/1.2.3.4.5.dcm"


@pytest.mark.django_db
@pytest.mark.parametrize("issuer", ["", "NO-FREG", "2.16.578.1.12.4.1.4.1"])
def test_a_national_number_under_the_national_register_names_the_person(site_a, issuer):
    fnr = factories.synthetic_fnr()

    assert patient_identity(site_a, fnr, issuer) == ("FNR", "NO-FREG", fnr)


@pytest.mark.django_db
def test_any_other_patient_id_is_the_sites_own_record_number(site_a):
    fnr = factories.synthetic_fnr()

    assert patient_identity(site_a, "12345", "") == ("MR", site_a.code, "12345")
    assert patient_identity(site_a, fnr, "ALFA-RIS") == ("MR", site_a.code, fnr)
    assert patient_identity(site_a, "", "") is None


def test_new_uids_fit_the_64_character_limit():
    assert is_valid_uid(new_uid())
