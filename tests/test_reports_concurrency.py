"""Report writes under real concurrency: real threads against a real PostgreSQL."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connection, connections

from hl7_interface.models import OutboundMessage
from reports.models import ReportDraft, ReportVersion
from reports.services.drafts import report_draft_save
from reports.services.errors import DraftConflict, ReportError
from reports.services.signing import report_sign
from tests import factories
from worklists.models import StudyEvent, StudyStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS = 6


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the tests are not running on PostgreSQL")
        pytest.skip("concurrency is tested on PostgreSQL (set DATABASE_URL)")


def _run_at_once(target, count: int) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(count)
    results: list[object] = []
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(target(index))
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_signing_the_same_report_from_many_tabs_at_once_signs_it_once(owner, site_a):
    study = factories.held_study(owner, site=site_a)
    report_draft_save(
        study_id=study.id, user=owner.user, sections=factories.report_sections(), base_revision=0
    )

    results, errors = _run_at_once(
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

    results, errors = _run_at_once(
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
