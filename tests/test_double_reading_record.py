"""What a double read keeps and who it keeps off: the policy's decision when the reading
started (an edited policy changes no reading under way), everyone who wrote a read (its draft
too, released and finished by another) kept off the later reads, the programme's rule, a joint
final that loses nothing either reader wrote, and the record read-only in the admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from reports.models import (
    AgreementRule,
    DoubleRead,
    DoubleReadStage,
    IndependentRead,
    ReportDraft,
    ReportVersion,
)
from reports.services.arbitration import ScreeningResult, joint_result, results_agree
from reports.services.double_reading import independent_read_sign
from reports.services.drafts import DraftInput, report_draft_save
from reports.services.errors import NotPermitted
from tests import factories
from tests.double_reading_support import (
    NORMAL,
    SUSPICIOUS,
    SYSTEM,
    give,
    make_cast,
    screening_study,
    sign_read,
)
from worklists.actors import Actor
from worklists.models import AuditEvent, ReadRestriction, StudyEvent
from worklists.services.claims import (
    AssigneeNotEligible,
    study_claim,
    study_coordinator_assign,
    study_release,
)
from worklists.services.studies import NotEligible

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]


def _restrictions(study) -> set[tuple[str, int | None, int | None]]:
    return set(
        ReadRestriction.objects.filter(study=study).values_list("kind", "radiologist_id", "site_id")
    )


# -- 1. the policy's decision is kept -----------------------------------------------------------


def test_a_policy_edited_mid_reading_changes_no_open_double_read():
    cast = make_cast(read_deadline_hours=6, agreement_rule=AgreementRule.RECALL)
    cast.policy.consensus_readers.set([cast.arbitrator])
    agreeing, disagreeing = screening_study(cast), screening_study(cast)
    sign_read(agreeing, cast.reader1, NORMAL)
    sign_read(disagreeing, cast.reader1, NORMAL)

    # the coordinator edits the policy while both stand at their second read
    cast.policy.consensus_readers.set([cast.reader_b])
    cast.policy.agreement_rule = AgreementRule.ANY_SCORE_2
    cast.policy.read_deadline_hours = 48
    cast.policy.second_reader_other_site = True
    cast.policy.save()
    sign_read(agreeing, cast.reader2, ScreeningResult(2, 1, False))
    sign_read(disagreeing, cast.reader2, SUSPICIOUS)

    # the recall rule it started with: a score of 2 without recall still agrees
    assert DoubleRead.objects.get(study=agreeing).stage == DoubleReadStage.AGREED
    case = DoubleRead.objects.get(study=disagreeing)
    assert case.stage == DoubleReadStage.ARBITRATION
    assert (case.agreement_rule, case.read_deadline_hours, case.second_reader_other_site) == (
        AgreementRule.RECALL,
        6,
        False,
    )
    assert list(case.consensus_readers.all()) == [cast.arbitrator]
    # reserved for the group it started with, not the edited one; due as it said then
    assert ("RESERVE", cast.arbitrator.id, None) in _restrictions(disagreeing)
    assert not ReadRestriction.objects.filter(study=disagreeing, radiologist=cast.reader_b)
    disagreeing.refresh_from_db()
    assert disagreeing.deadline - disagreeing.ready_at == dt.timedelta(hours=6)


def test_a_double_read_started_after_the_edit_follows_the_edited_policy():
    cast = make_cast(read_deadline_hours=6)
    cast.policy.consensus_readers.set([cast.reader_b])
    cast.policy.read_deadline_hours = 48
    cast.policy.save()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)

    case = DoubleRead.objects.get(study=study)
    assert list(case.consensus_readers.all()) == [cast.reader_b]
    assert ("RESERVE", cast.reader_b.id, None) in _restrictions(study)
    study.refresh_from_db()
    assert study.deadline - study.ready_at == dt.timedelta(hours=48)


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_current_policy_with_a_double_read_under_way():
    cast = make_cast(read_deadline_hours=12)
    cast.policy.consensus_readers.set([cast.arbitrator])
    study = screening_study(cast)
    before = [("reports", "0007_double_reading")]
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(before)
        apps = MigrationExecutor(connection).loader.project_state(before).apps
        old = apps.get_model("reports", "DoubleRead")
        case = old.objects.create(
            study_id=study.id,
            policy_id=cast.policy.id,
            agreement_rule="RECALL",
            second_reader_other_site=False,
            stage="SECOND_READ",
            started_at=timezone.now(),
        )
        old_draft = apps.get_model("reports", "ReportDraft").objects.create(
            study_id=study.id,
            sections=[],
            revision=1,
            author_id=cast.reader1.user_id,
            author_name="Reader1",
            created_at=timezone.now(),
            updated_at=timezone.now(),
        )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    kept = DoubleRead.objects.get(pk=case.pk)
    assert (kept.read_deadline_hours, kept.result_scale) == (12, "NO_SCREENING")
    assert list(kept.consensus_readers.all()) == [cast.arbitrator]
    assert ReportDraft.objects.get(pk=old_draft.pk).author_ids == [cast.reader1.user_id]


# -- 2. the rules and the joint final -----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "agree"),
    [
        (NORMAL, NORMAL, True),
        (NORMAL, ScreeningResult(2, 1, False), False),
        (ScreeningResult(1, 2, False), NORMAL, False),
        (ScreeningResult(3, 3, True), ScreeningResult(3, 3, True), False),
        (NORMAL, ScreeningResult(1, 1, True), False),
    ],
)
def test_the_programmes_rule_sends_any_score_of_2_or_more_to_consensus(first, second, agree):
    assert results_agree(AgreementRule.ANY_SCORE_2, first, second) is agree


def test_under_the_programmes_rule_one_score_of_2_goes_to_consensus():
    cast = make_cast(agreement_rule=AgreementRule.ANY_SCORE_2)
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)

    sign_read(study, cast.reader2, ScreeningResult(1, 2, False))

    assert DoubleRead.objects.get(study=study).stage == DoubleReadStage.ARBITRATION
    assert not ReportVersion.objects.filter(study=study).exists()
    event = StudyEvent.objects.filter(study=study).last()
    assert event.data["double_reading"] == "ARBITRATION"
    assert "score of 2 or more" in event.reason


def test_two_recalls_scored_differently_agree_and_the_joint_final_loses_neither_read():
    cast = make_cast(agreement_rule=AgreementRule.RECALL)
    study = screening_study(cast)
    sign_read(study, cast.reader1, ScreeningResult(1, 4, True), text="Spikulert lesjon venstre.")

    sign_read(study, cast.reader2, ScreeningResult(3, 2, True), text="Asymmetri høyre.")

    case = DoubleRead.objects.get(study=study)
    assert case.stage == DoubleReadStage.AGREED
    sections = {s["key"]: s["text"] for s in case.final_version.sections}
    assert "Spikulert lesjon venstre." in sections["findings"]
    assert "Asymmetri høyre." in sections["findings"]
    assert cast.reader1.display_name in sections["findings"]
    assert sections["clinical_information"] == "Hodepine."  # both wrote it alike: once
    named = sections["double_reading"]
    assert "score right 1, left 4, recall" in named
    assert "score right 3, left 2, recall" in named
    assert "Joint result (the higher score per breast): score right 3, left 4, recall." in named


def test_the_joint_result_is_the_higher_score_per_breast():
    assert joint_result(ScreeningResult(1, 4, True), ScreeningResult(3, 2, True)) == (
        ScreeningResult(3, 4, True)
    )


# -- 3. whoever wrote a read is kept off the later reads -----------------------------------------


def _write_and_release(study, reader, text: str, base_revision: int) -> None:
    give(study, reader)
    report_draft_save(
        study_id=study.id,
        user=reader.user,
        sections=factories.report_sections(findings=text, conclusion=text),
        base_revision=base_revision,
    )
    study_release(study_id=study.id, radiologist_id=reader.id, actor=SYSTEM)


def _finish(study, reader, result: ScreeningResult, base_revision: int) -> IndependentRead:
    give(study, reader)
    return independent_read_sign(
        study_id=study.id,
        user=reader.user,
        password=factories.PASSWORD,
        result=result,
        draft=DraftInput(
            sections=factories.report_sections(findings="Ferdig.", conclusion="Ferdig."),
            base_revision=base_revision,
        ),
    )


def test_a_reader_who_released_a_first_read_draft_is_kept_off_the_second_read():
    cast = make_cast()
    study = screening_study(cast)
    _write_and_release(study, cast.reader_b, "Påbegynt.", base_revision=0)

    read = _finish(study, cast.reader1, NORMAL, base_revision=1)

    assert list(read.draft_authors.all()) == [cast.reader_b]
    assert {("EXCLUDE", cast.reader1.id, None), ("EXCLUDE", cast.reader_b.id, None)} <= (
        _restrictions(study)
    )
    with pytest.raises(NotEligible):
        study_claim(
            study_id=study.id,
            radiologist_id=cast.reader_b.id,
            actor=Actor.for_user(cast.reader_b.user),
        )
    with pytest.raises(AssigneeNotEligible):
        study_coordinator_assign(
            study_id=study.id,
            radiologist_id=cast.reader_b.id,
            actor=Actor.for_user(cast.coordinator),
            reason="short of readers",
        )
    event = StudyEvent.objects.filter(study=study).last()
    assert set(event.data["excluded_radiologist_ids"]) == {cast.reader1.id, cast.reader_b.id}


def test_the_service_refuses_the_second_read_to_a_first_read_draft_author():
    cast = make_cast()
    study = screening_study(cast)
    _write_and_release(study, cast.reader_b, "Påbegynt.", base_revision=0)
    _finish(study, cast.reader1, NORMAL, base_revision=1)
    # past the routing rules (a system assignment): the signing itself refuses
    ReadRestriction.objects.filter(study=study).delete()

    with pytest.raises(NotPermitted):
        sign_read(study, cast.reader_b, NORMAL)

    assert IndependentRead.objects.filter(double_read__study=study).count() == 1


def test_a_first_read_draft_authors_site_is_kept_off_when_the_policy_says_so():
    cast = make_cast(second_reader_other_site=True)
    study = screening_study(cast)
    _write_and_release(study, cast.reader_b, "Påbegynt.", base_revision=0)

    _finish(study, cast.arbitrator, NORMAL, base_revision=1)  # works for no site

    assert ("EXCLUDE", None, cast.site_b.id) in _restrictions(study)


def test_everyone_who_wrote_either_read_is_kept_off_the_arbitration():
    cast = make_cast()
    study = screening_study(cast)
    _write_and_release(study, cast.reader_b, "Påbegynt en.", base_revision=0)
    _finish(study, cast.reader1, NORMAL, base_revision=1)
    _write_and_release(study, cast.reader2, "Påbegynt to.", base_revision=0)

    second = _finish(study, cast.arbitrator, SUSPICIOUS, base_revision=1)

    assert list(second.draft_authors.all()) == [cast.reader2]
    assert DoubleRead.objects.get(study=study).stage == DoubleReadStage.ARBITRATION
    excluded = {r for kind, r, _site in _restrictions(study) if kind == "EXCLUDE"}
    assert excluded == {cast.reader1.id, cast.reader_b.id, cast.reader2.id, cast.arbitrator.id}


def test_a_draft_keeps_every_author_who_saved_it():
    cast = make_cast()
    study = screening_study(cast)
    _write_and_release(study, cast.reader_b, "En.", base_revision=0)
    _write_and_release(study, cast.reader1, "To.", base_revision=1)
    _write_and_release(study, cast.reader_b, "Tre.", base_revision=2)

    draft = ReportDraft.objects.get(study=study)
    assert draft.author_ids == [cast.reader_b.user_id, cast.reader1.user_id]
    assert draft.author_id == cast.reader_b.user_id


# -- 5. the record in the admin, read-only -------------------------------------------------------


def _staff(user, *codenames):
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_double_reads_and_their_reads_are_in_the_admin_read_only_and_audited(client):
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, SUSPICIOUS)
    case = DoubleRead.objects.get(study=study)
    read = case.reads.get(number=1)
    client.force_login(
        _staff(cast.coordinator, "view_doubleread", "view_independentread", "change_doubleread")
    )

    page = client.get(reverse("admin:reports_doubleread_change", args=[case.id]))
    read_page = client.get(reverse("admin:reports_independentread_change", args=[read.id]))
    listing = client.get(reverse("admin:reports_independentread_changelist"))
    posted = client.post(
        reverse("admin:reports_doubleread_change", args=[case.id]), {"stage": "AGREED"}
    )

    assert page.status_code == 200
    assert cast.reader1.display_name in page.content.decode()
    assert cast.reader2.display_name in page.content.decode()
    assert read_page.status_code == 200
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 2
    assert posted.status_code == 403
    assert DoubleRead.objects.get(pk=case.pk).stage == DoubleReadStage.ARBITRATION
    assert client.get(reverse("admin:reports_doubleread_add")).status_code == 403
    actions = list(AuditEvent.objects.values_list("action", "object_id", "channel"))
    assert ("report.view", str(study.id), "admin") in actions
    listed = AuditEvent.objects.filter(action="patient.list", channel="admin")
    assert {e.patient_id for e in listed} == {study.patient_id}


def test_the_admin_shows_no_double_read_of_a_study_the_user_may_not_see(client):
    cast = make_cast()
    study = screening_study(cast)  # at site A: the outsider holds no credential there
    sign_read(study, cast.reader1, NORMAL)
    case = DoubleRead.objects.get(study=study)
    outsider = factories.RadiologistFactory.create(user__username="outsider")  # no credential
    client.force_login(_staff(outsider.user, "view_doubleread", "view_independentread"))

    page = client.get(reverse("admin:reports_doubleread_change", args=[case.id]))
    listing = client.get(reverse("admin:reports_independentread_changelist"))

    assert page.status_code == 302
    assert listing.context["cl"].result_count == 0
    assert not AuditEvent.objects.filter(action="report.view").exists()
