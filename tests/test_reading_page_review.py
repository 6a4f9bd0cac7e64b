"""A peer review on the reading page: the report under review read-only in place of the editor,
the score form, the review's own deadline; blind as the policy says (no author, signer, double
reading section, assignment, issued versions or study-page link in the HTML). And the reading
page's priors: a prior withheld from a blind reviewer lists without its report and signer,
asked once for all the priors (the page's queries do not grow with their number)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from quality.models import ReviewTask
from quality.reading_order import review_reading_url
from quality.services.sampling import review_sample
from reports.models import ReportVersion, VersionKind
from tests import factories
from tests.quality_support import AUTHOR, blind_review, client_of
from worklists.models import AuditEvent, Patient, StudyStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(owner, other_radiologist, site_a, neuro):
    return blind_review(owner, other_radiologist, site=site_a, worklist=neuro)


def page(task: ReviewTask) -> str:
    return review_reading_url(study_id=task.study_id, review_id=task.id)


def test_the_blind_review_shows_the_report_and_form_without_the_author(review, other_radiologist):
    response = client_of(other_radiologist.user).get(page(review))

    assert response.status_code == 200
    html = response.content.decode()
    assert "data-reading-task" in html  # the reading page's header, for the review
    assert "Normal CT caput." in html  # the report under review
    assert "data-score-form" in html
    assert 'data-review-blind="true"' in html
    assert "data-task-deadline" in html
    assert timezone.localtime(review.deadline).isoformat()[:16] in html
    assert AUTHOR not in html
    assert "Astrid" not in html
    # what names who read and signed it is not on the page: no editor, versions, assignment,
    # link to the study page (withheld), nor "Read next" (it would open this review again)
    assert 'id="report-form"' not in html
    assert 'id="versions-title"' not in html
    assert f'href="{reverse("study", args=[review.study_id])}"' not in html
    assert "data-read-next" not in html


def test_a_review_not_blind_names_the_author(review, other_radiologist):
    ReviewTask.objects.filter(id=review.id).update(blind_author=False)

    html = client_of(other_radiologist.user).get(page(review)).content.decode()

    assert 'data-review-blind="false"' in html
    assert f"Astrid {AUTHOR}" in html
    assert f'href="{reverse("study", args=[review.study_id])}"' in html


def test_the_review_page_audits_the_study_and_report_read(review, other_radiologist):
    client_of(other_radiologist.user).get(page(review))

    actions = set(
        AuditEvent.objects.filter(
            actor=other_radiologist.user, object_id=str(review.study_id)
        ).values_list("action", flat=True)
    )
    assert {"study.view", "report.view"} <= actions


def test_the_review_of_another_study_is_not_found_on_this_one(
    review, other_radiologist, site_a, neuro
):
    other = factories.held_study(other_radiologist, site=site_a, worklist=neuro)

    answer = client_of(other_radiologist.user).get(
        review_reading_url(study_id=other.id, review_id=review.id)
    )

    assert answer.status_code == 404


def _signed_prior(author, patient: Patient, site, worklist) -> ReportVersion:
    study = factories.ready_study(site, worklist, status=StudyStatus.FINAL, patient=patient)
    return ReportVersion.objects.create(
        study=study,
        number=1,
        kind=VersionKind.FINAL,
        sections=factories.report_sections(conclusion="Forkalkning i falx."),
        signed_by=author,
        signer_name=author.display_name,
        signer_hpr=author.hpr_number,
        signed_at=timezone.now(),
        password_confirmed=True,
        content_hash="0" * 64,
    )


def test_a_prior_under_the_readers_blind_review_shows_without_its_report_or_signer(
    review, other_radiologist, site_a, neuro
):
    patient = review.study.patient
    current = factories.held_study(other_radiologist, site=site_a, worklist=neuro, patient=patient)

    html = client_of(other_radiologist.user).get(reverse("reading", args=[current.id])).content
    html = html.decode()

    assert f'data-prior-id="{review.study_id}"' in html
    assert "data-prior-withheld" in html
    assert "Normal CT caput." not in html  # the reviewed report's conclusion
    assert AUTHOR not in html
    assert page(review) in html  # where to read it instead
    # its report was not shown, so no report read of it is audited
    assert not AuditEvent.objects.filter(
        actor=other_radiologist.user, action="report.view", object_id=str(review.study_id)
    ).exists()


def test_a_prior_shows_its_report_to_a_reader_who_does_not_review_it(
    review, owner, site_a, neuro, coordinator
):
    current = factories.held_study(owner, site=site_a, worklist=neuro, patient=review.study.patient)

    html = client_of(owner.user).get(reverse("reading", args=[current.id])).content.decode()

    assert "data-prior-withheld" not in html
    assert "Normal CT caput." in html


def test_withheld_priors_cost_the_same_queries_however_many(
    review, owner, other_radiologist, site_a, neuro
):
    patient = review.study.patient
    current = factories.held_study(other_radiologist, site=site_a, worklist=neuro, patient=patient)
    client = client_of(other_radiologist.user)
    url = reverse("reading", args=[current.id])
    client.get(url)  # warm: session, caches
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(4):
        sampled = review_sample(version_id=_signed_prior(owner, patient, site_a, neuro).id)
        assert sampled is not None
        assert sampled.reviewer_id == other_radiologist.id
    with CaptureQueriesContext(connection) as five:
        html = client.get(url).content.decode()

    assert html.count("data-prior-withheld") == 5
    assert "Forkalkning" not in html
    assert len(five.captured_queries) == len(one.captured_queries)


def test_score_returns_to_the_worklist(review, other_radiologist):
    response = client_of(other_radiologist.user).post(
        reverse("review-score", args=[review.id]), {"score": "1", "comment": ""}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("worklist")
    review.refresh_from_db()
    assert review.score == "1"


def test_score_and_next_with_nothing_left_goes_to_the_worklist(review, other_radiologist):
    """Nothing else waits for the reader (test_browser_review_in_reading_order goes on to a
    study that does)."""
    client = client_of(other_radiologist.user)

    nothing = client.post(
        reverse("review-score", args=[review.id]), {"score": "1", "comment": "", "then": "next"}
    )

    assert nothing.status_code == 302
    assert nothing["Location"] == reverse("worklist")
    review.refresh_from_db()
    assert review.score == "1"
