"""Report writes under real concurrency: real threads against a real PostgreSQL."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from pytest_django.fixtures import Settings

from hl7_interface.models import OutboundMessage
from reports.models import ReportDraft, ReportVersion, SigningFailure
from reports.services.drafts import report_draft_save
from reports.services.errors import DraftConflict, ReportError, SigningLocked, WrongPassword
from reports.services.signing import report_sign
from tests import factories
from tests.db_support import require_postgresql, run_at_once
from worklists.models import Radiologist, Site, StudyEvent, StudyStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS = 6


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    require_postgresql()


def test_signing_the_same_report_from_many_tabs_at_once_signs_it_once(owner, site_a):
    study = factories.held_study(owner, site=site_a)
    report_draft_save(
        study_id=study.id, user=owner.user, sections=factories.report_sections(), base_revision=0
    )

    results, errors = run_at_once(
        lambda _i: report_sign(study_id=study.id, user=owner.user, password=factories.PASSWORD),
        WRITERS,
    )

    assert len(results) == 1
    assert len(errors) == WRITERS - 1
    assert all(isinstance(e, ReportError) for e in errors), errors
    assert ReportVersion.objects.filter(study=study).count() == 1
    assert OutboundMessage.objects.filter(study=study, result_status="F").count() == 1
    assert StudyEvent.objects.filter(study=study, to_status=StudyStatus.FINAL).count() == 1


def test_autosaves_from_the_same_revision_at_once_keep_exactly_one(owner, site_a):
    study = factories.held_study(owner, site=site_a)
    report_draft_save(
        study_id=study.id, user=owner.user, sections=factories.report_sections(), base_revision=0
    )

    results, errors = run_at_once(
        lambda i: report_draft_save(
            study_id=study.id,
            user=owner.user,
            sections=factories.report_sections(findings=f"fane {i}"),
            base_revision=1,
        ),
        WRITERS,
    )

    assert len(results) == 1
    assert len(errors) == WRITERS - 1
    assert all(isinstance(e, DraftConflict) for e in errors), errors
    draft = ReportDraft.objects.get(study=study)
    assert draft.revision == 2
    assert draft.sections[2]["text"] == results[0].sections[2]["text"]


def test_wrong_passwords_at_once_get_no_more_tries_than_the_lockout_allows(
    owner: Radiologist, site_a: Site, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REPORTS_SIGN_MAX_FAILURES = 3
    study = factories.held_study(owner, site=site_a)
    report_draft_save(
        study_id=study.id, user=owner.user, sections=factories.report_sections(), base_revision=0
    )
    user_model = get_user_model()
    real_check = user_model.check_password
    tried: list[str] = []

    def slow_check(self: AbstractBaseUser, raw_password: str) -> bool:
        # A real hash is slow on purpose: every guess sent at once is in flight together.
        tried.append(raw_password)
        time.sleep(0.3)
        return real_check(self, raw_password)

    monkeypatch.setattr(user_model, "check_password", slow_check)
    guesses = WRITERS * 2

    results, errors = run_at_once(
        lambda i: report_sign(study_id=study.id, user=owner.user, password=f"gjetning {i}"),
        guesses,
    )

    assert results == []
    assert len(tried) == 3, tried
    wrong = [e for e in errors if type(e) is WrongPassword]
    locked = [e for e in errors if isinstance(e, SigningLocked)]
    assert (len(wrong), len(locked)) == (3, guesses - 3), errors
    assert SigningFailure.objects.filter(user=owner.user).count() == 3
    assert not ReportVersion.objects.filter(study=study).exists()


def test_a_right_password_racing_wrong_ones_signs_and_is_not_counted(
    owner: Radiologist, site_a: Site, settings: Settings
) -> None:
    settings.REPORTS_SIGN_MAX_FAILURES = WRITERS + 1
    study = factories.held_study(owner, site=site_a)
    report_draft_save(
        study_id=study.id, user=owner.user, sections=factories.report_sections(), base_revision=0
    )

    results, errors = run_at_once(
        lambda i: report_sign(
            study_id=study.id,
            user=owner.user,
            password=factories.PASSWORD if i == 0 else f"gjetning {i}",
        ),
        WRITERS,
    )

    assert len(results) == 1
    assert len(errors) == WRITERS - 1
    assert all(type(e) is WrongPassword for e in errors), errors
    # Only the wrong ones stay on record.
    assert SigningFailure.objects.filter(user=owner.user).count() == WRITERS - 1
    assert ReportVersion.objects.filter(study=study).count() == 1
