"""Double reading (reports.services.double_reading): two independent reads by two readers,
agreement ends with one joint final, disagreement with an arbitration signed as the final;
only the final goes to the RIS; every step is an event; each read has its own deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from hl7_interface.models import OutboundMessage
from reports.models import (
    AgreementRule,
    DoubleRead,
    DoubleReadStage,
    IndependentRead,
    ReportDraft,
    ReportVersion,
)
from reports.services.arbitration import ScreeningResult, results_agree
from reports.services.double_reading import independent_read_sign
from reports.services.errors import NotPermitted, ReportInvalid, ReportStateConflict
from reports.services.signing import report_issue_preliminary
from tests import factories
from tests.double_reading_support import (
    NORMAL,
    SUSPICIOUS,
    draft,
    give,
    make_cast,
    screening_study,
    sign_final,
    sign_read,
)
from worklists.models import Assignment, ReadRestriction, StudyEvent, StudyStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]


def test_a_worklist_without_a_policy_signs_its_final_as_always_and_has_no_independent_read():
    cast = make_cast()
    cast.policy.is_active = False
    cast.policy.save()
    study = screening_study(cast)

    version = sign_final(study, cast.reader1)

    study.refresh_from_db()
    assert (study.status, version.kind) == (StudyStatus.FINAL, "FINAL")
    assert OutboundMessage.objects.filter(study=study).count() == 1
    assert not DoubleRead.objects.exists()
    other = screening_study(cast)
    give(other, cast.reader1)
    with pytest.raises(ReportStateConflict):
        independent_read_sign(
            study_id=other.id,
            user=cast.reader1.user,
            password=factories.PASSWORD,
            result=NORMAL,
            draft=draft("x"),
        )
    assert not IndependentRead.objects.exists()


def test_the_first_read_is_signed_as_an_independent_read_and_routed_on_without_its_reader():
    cast = make_cast(read_deadline_hours=48)
    study = screening_study(cast)

    read = sign_read(study, cast.reader1, NORMAL, text="Ingen funn.")

    study.refresh_from_db()
    assert (read.number, read.radiologist_id, read.recall) == (1, cast.reader1.id, False)
    assert read.sections[2]["text"] == "Ingen funn."
    assert study.status == StudyStatus.READY
    assert not ReportVersion.objects.filter(study=study).exists()
    assert not OutboundMessage.objects.filter(study=study).exists()
    assert not ReportDraft.objects.filter(study=study).exists()  # the second reader starts blind
    assert not Assignment.objects.filter(study=study, ended_at__isnull=True).exists()
    assert DoubleRead.objects.get(study=study).stage == DoubleReadStage.SECOND_READ
    assert study.has_read_restrictions
    assert list(
        ReadRestriction.objects.filter(study=study).values_list("kind", "radiologist_id", "site_id")
    ) == [("EXCLUDE", cast.reader1.id, None)]
    event = StudyEvent.objects.filter(study=study).last()
    assert (event.from_status, event.to_status) == (StudyStatus.IN_PROGRESS, StudyStatus.READY)
    assert event.data["double_reading"] == "SECOND_READ"
    assert event.data["excluded_radiologist_ids"] == [cast.reader1.id]
    # the second read has a deadline of its own, from now, at the first tier
    assert study.deadline - study.ready_at == dt.timedelta(hours=48)
    assert abs(study.ready_at - timezone.now()) < dt.timedelta(minutes=1)
    assert study.escalation_tier == 0


def test_the_policy_can_keep_the_first_readers_site_off_the_second_read():
    cast = make_cast(second_reader_other_site=True)
    study = screening_study(cast)

    sign_read(study, cast.reader1, NORMAL)

    assert set(
        ReadRestriction.objects.filter(study=study).values_list("radiologist_id", "site_id")
    ) == {(cast.reader1.id, None), (None, cast.site_a.id)}


def test_the_normal_signing_and_a_preliminary_are_refused_for_an_independent_read():
    cast = make_cast()
    study = screening_study(cast)
    give(study, cast.reader1)

    with pytest.raises(ReportStateConflict):
        sign_final_held(study, cast.reader1)
    with pytest.raises(ReportStateConflict):
        report_issue_preliminary(study_id=study.id, user=cast.reader1.user, draft=draft("x"))

    assert not ReportVersion.objects.filter(study=study).exists()
    assert not OutboundMessage.objects.filter(study=study).exists()


def sign_final_held(study, reader):
    from reports.services.signing import report_sign

    return report_sign(
        study_id=study.id, user=reader.user, password=factories.PASSWORD, draft=draft("x")
    )


def test_the_first_reader_cannot_sign_the_second_read():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    # study_assign checks only the credential: the signing itself refuses
    with pytest.raises(NotPermitted):
        sign_read(study, cast.reader1, NORMAL)

    assert IndependentRead.objects.filter(double_read__study=study).count() == 1


def test_the_database_refuses_two_reads_by_one_reader():
    cast = make_cast()
    study = screening_study(cast)
    first = sign_read(study, cast.reader1, NORMAL)

    with pytest.raises(IntegrityError), transaction.atomic():
        IndependentRead.objects.create(
            double_read=first.double_read,
            number=2,
            radiologist=cast.reader1,
            signer_name="x",
            signer_hpr="1",
            sections=[],
            score_right=1,
            score_left=1,
            recall=False,
            signed_at=timezone.now(),
            content_hash="0" * 64,
        )


def test_agreeing_reads_end_with_one_joint_final_naming_both_and_one_delivery():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL, text="Lesning en.")

    second = sign_read(study, cast.reader2, ScreeningResult(2, 1, False), text="Lesning to.")

    study.refresh_from_db()
    assert study.status == StudyStatus.FINAL
    case = DoubleRead.objects.get(study=study)
    assert case.stage == DoubleReadStage.AGREED
    version = ReportVersion.objects.get(study=study)
    assert (version.kind, version.signed_by_id, version.password_confirmed) == (
        "FINAL",
        cast.reader2.id,
        True,
    )
    assert case.final_version == version
    # nothing either reader wrote is lost: where they differ, each reader's text by name
    assert version.sections[2]["text"] == (
        f"{cast.reader1.display_name}:\nLesning en.\n\n{cast.reader2.display_name}:\nLesning to."
    )
    assert version.sections[0]["text"] == "Hodepine."  # written alike: once
    joint = version.sections[-1]
    assert joint["key"] == "double_reading"
    assert cast.reader1.display_name in joint["text"]
    assert cast.reader2.display_name in joint["text"]
    assert [m.kind for m in OutboundMessage.objects.filter(study=study)] == ["REPORT"]
    assert OutboundMessage.objects.get(study=study).content["result_status"] == "F"
    assert second.number == 2
    reasons = list(StudyEvent.objects.filter(study=study).values_list("data", flat=True))
    assert [d.get("double_reading") for d in reasons if d.get("double_reading")] == [
        "SECOND_READ",
        "AGREED",
    ]
    assert StudyEvent.objects.filter(study=study, to_status=StudyStatus.FINAL).count() == 1
    assert not Assignment.objects.filter(study=study, ended_at__isnull=True).exists()


def test_disagreeing_reads_go_to_arbitration_without_either_reader():
    cast = make_cast(read_deadline_hours=6)
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    sign_read(study, cast.reader2, SUSPICIOUS)

    study.refresh_from_db()
    assert study.status == StudyStatus.READY
    assert DoubleRead.objects.get(study=study).stage == DoubleReadStage.ARBITRATION
    assert not ReportVersion.objects.filter(study=study).exists()
    assert not OutboundMessage.objects.filter(study=study).exists()
    assert set(
        ReadRestriction.objects.filter(study=study).values_list("kind", "radiologist_id")
    ) == {("EXCLUDE", cast.reader1.id), ("EXCLUDE", cast.reader2.id)}
    assert study.deadline - study.ready_at == dt.timedelta(hours=6)
    event = StudyEvent.objects.filter(study=study).last()
    assert event.data["double_reading"] == "ARBITRATION"


def test_the_arbitrator_signs_the_one_final_naming_both_reads():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)

    version = sign_final(study, cast.arbitrator, text="Innkalles.")

    study.refresh_from_db()
    assert study.status == StudyStatus.FINAL
    case = DoubleRead.objects.get(study=study)
    assert (case.stage, case.arbitrator_id, case.final_version_id) == (
        DoubleReadStage.ARBITRATED,
        cast.arbitrator.id,
        version.id,
    )
    assert version.signed_by_id == cast.arbitrator.id
    assert version.sections[2]["text"] == "Innkalles."
    named = version.sections[-1]["text"]
    assert cast.reader1.display_name in named
    assert cast.reader2.display_name in named
    assert cast.arbitrator.display_name in named
    assert OutboundMessage.objects.filter(study=study).count() == 1
    assert ReportVersion.objects.filter(study=study).count() == 1
    steps = [
        (e.to_status, e.data.get("double_reading"))
        for e in StudyEvent.objects.filter(study=study)
        if e.data.get("double_reading")
    ]
    assert steps == [
        (StudyStatus.READY, "SECOND_READ"),
        (StudyStatus.READY, "ARBITRATION"),
        (StudyStatus.FINAL, "ARBITRATED"),
    ]


def test_the_arbitration_is_reserved_for_the_consensus_group_less_the_two_readers():
    cast = make_cast()
    cast.policy.consensus_readers.set([cast.arbitrator, cast.reader1])
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    sign_read(study, cast.reader2, SUSPICIOUS)

    assert list(
        ReadRestriction.objects.filter(study=study, kind="RESERVE").values_list(
            "radiologist_id", flat=True
        )
    ) == [cast.arbitrator.id]


def test_the_arbitrator_issues_no_preliminary_only_the_final_goes_out():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)
    give(study, cast.arbitrator)

    with pytest.raises(ReportStateConflict):
        report_issue_preliminary(study_id=study.id, user=cast.arbitrator.user, draft=draft("x"))

    assert not OutboundMessage.objects.filter(study=study).exists()


def test_an_independent_read_cannot_be_signed_once_both_are_signed():
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)

    with pytest.raises(ReportStateConflict):
        sign_read(study, cast.arbitrator, NORMAL)

    assert IndependentRead.objects.filter(double_read__study=study).count() == 2


@pytest.mark.parametrize(
    ("field", "result"),
    [
        ("score_right", ScreeningResult(0, 1, False)),
        ("score_left", ScreeningResult(1, 6, False)),
        ("score_left", ScreeningResult(1, True, False)),
        ("recall", ScreeningResult(1, 1, "yes")),  # type: ignore[arg-type]
    ],
)
def test_a_result_out_of_the_scale_is_a_field_error_and_signs_nothing(field, result):
    cast = make_cast()
    study = screening_study(cast)

    with pytest.raises(ReportInvalid) as refused:
        sign_read(study, cast.reader1, result)

    assert refused.value.field == field
    assert not IndependentRead.objects.exists()


def test_a_wrong_password_signs_no_read():
    from reports.services.errors import WrongPassword

    cast = make_cast()
    study = give(screening_study(cast), cast.reader1)

    with pytest.raises(WrongPassword):
        independent_read_sign(
            study_id=study.id,
            user=cast.reader1.user,
            password="wrong",
            result=NORMAL,
            draft=draft("x"),
        )

    assert not IndependentRead.objects.exists()
    study.refresh_from_db()
    assert study.status == StudyStatus.ASSIGNED


def test_the_agreement_rules():
    normal, benign = NORMAL, ScreeningResult(2, 1, False)
    assert results_agree(AgreementRule.RECALL, normal, benign)
    assert not results_agree(AgreementRule.RECALL_AND_SCORES, normal, benign)
    assert results_agree(AgreementRule.RECALL_AND_SCORES, normal, NORMAL)
    assert not results_agree(AgreementRule.RECALL, normal, SUSPICIOUS)


def test_scores_agreement_rule_sends_differing_scores_to_arbitration():
    cast = make_cast(agreement_rule=AgreementRule.RECALL_AND_SCORES)
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    sign_read(study, cast.reader2, ScreeningResult(2, 1, False))

    assert DoubleRead.objects.get(study=study).stage == DoubleReadStage.ARBITRATION


def test_a_policy_for_some_procedure_codes_leaves_the_worklists_other_studies_single_read():
    cast = make_cast(procedure_codes="GGA0SC GGA0SX")
    clinical = screening_study(cast, procedure_code="GGA0KL", procedure_text="Mammografi klinisk")
    screening = screening_study(cast)

    version = sign_final(clinical, cast.reader1)
    sign_read(screening, cast.reader1, NORMAL)

    assert version.kind == "FINAL"
    assert not DoubleRead.objects.filter(study=clinical).exists()
    assert DoubleRead.objects.get(study=screening).stage == DoubleReadStage.SECOND_READ


def test_the_joint_final_is_announced_to_the_final_signed_listeners(
    django_capture_on_commit_callbacks,
):
    from reports.hooks import _final_signed, register_final_signed

    heard: list[tuple[int, int]] = []
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    saved = dict(_final_signed)
    register_final_signed(
        "test", lambda *, study_id, version_id: heard.append((study_id, version_id))
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sign_read(study, cast.reader2, NORMAL)
    finally:
        _final_signed.clear()
        _final_signed.update(saved)

    version = ReportVersion.objects.get(study=study)
    assert (study.id, version.id) in heard
