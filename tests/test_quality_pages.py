"""The peer-review pages: the review on the reading page (the report, the author blinded as the
policy says, the score form), the old review address leading there, the reviews list, the
worklist page (the review in the reader's queue, the panel), the figures and their CSV.
Scoped and audited like every study read."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from quality.models import ReviewStatus
from quality.reading_order import review_reading_url
from quality.services.sampling import review_sample
from quality.services.scoring import review_score
from tests.quality_support import blind_review, client_of, final_version, policy
from worklists.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(owner, other_radiologist, site_a, neuro):
    return blind_review(owner, other_radiologist, site=site_a, worklist=neuro)


def page_of(task) -> str:
    return review_reading_url(study_id=task.study_id, review_id=task.id)


def test_the_reviewer_reads_the_report_with_the_author_blinded_and_the_read_is_audited(
    task, other_radiologist
):
    response = client_of(other_radiologist.user).get(page_of(task))

    assert response.status_code == 200
    html = response.content.decode()
    assert "data-reading-task" in html  # the reading page, for the review
    assert "Normal CT caput." in html  # the report's conclusion
    assert "Forfattersen" not in html
    assert "the author is blinded" in html
    assert "data-score-form" in html
    actions = set(
        AuditEvent.objects.filter(
            actor=other_radiologist.user, object_id=str(task.study_id)
        ).values_list("action", flat=True)
    )
    assert {"study.view", "report.view"} <= actions


def test_without_blinding_the_page_names_the_author(task, other_radiologist):
    task.blind_author = False
    task.save()

    html = client_of(other_radiologist.user).get(page_of(task)).content

    assert b"Forfattersen" in html


def test_the_old_review_address_leads_to_the_reading_page(task, other_radiologist):
    response = client_of(other_radiologist.user).get(reverse("review", args=[task.id]))

    assert response.status_code == 302
    assert response.url == page_of(task)


def test_another_sites_reader_gets_a_404_and_the_refusal_is_audited(task, outsider):
    for url in (reverse("review", args=[task.id]), page_of(task)):
        response = client_of(outsider.user).get(url)

        assert response.status_code == 404
    assert (
        AuditEvent.objects.filter(
            actor=outsider.user, action="study.refused", object_id=str(task.study_id)
        ).count()
        == 2
    )


def test_the_author_may_not_open_the_review_of_their_report(task, owner):
    assert client_of(owner.user).get(reverse("review", args=[task.id])).status_code == 404
    assert client_of(owner.user).get(page_of(task)).status_code == 404


def test_the_score_form_scores_and_returns_to_the_worklist(task, other_radiologist):
    response = client_of(other_radiologist.user).post(
        reverse("review-score", args=[task.id]), {"score": "2b", "comment": "Oversett fraktur."}
    )

    assert response.status_code == 302
    assert response.url == reverse("worklist")
    task.refresh_from_db()
    assert (task.status, task.score, task.comment) == (
        ReviewStatus.SCORED,
        "2b",
        "Oversett fraktur.",
    )


def test_a_refused_score_shows_the_page_again_with_what_was_typed(task, other_radiologist):
    response = client_of(other_radiologist.user).post(
        reverse("review-score", args=[task.id]), {"score": "3a", "comment": ""}
    )

    assert response.status_code == 400
    assert b"a comment is needed" in response.content
    assert b"data-reading-task" in response.content  # the reading page again
    assert b'value="3a" required checked' in response.content
    task.refresh_from_db()
    assert task.status == ReviewStatus.ASSIGNED


def test_the_reviewers_queue_lists_their_open_review_with_its_deadline(task, other_radiologist):
    html = client_of(other_radiologist.user).get(reverse("worklist")).content.decode()

    assert f'data-queue-task="peer-review:{task.id}"' in html
    assert timezone.localtime(task.deadline).isoformat()[:16] in html
    assert page_of(task) in html
    assert "Forfattersen" not in html


def test_the_author_is_told_of_a_significant_discrepancy_with_the_way_to_an_addendum(
    task, owner, other_radiologist
):
    review_score(task_id=task.id, user=other_radiologist.user, score="3b", comment="Se lungene.")

    html = client_of(owner.user).get(reverse("worklist")).content.decode()

    assert "data-review-discrepancies" in html
    assert "Se lungene." in html
    assert reverse("reading", args=[task.study_id]) in html
    # Not who reviewed it.
    assert other_radiologist.user.username not in html.split("data-review-discrepancies")[1][:800]


def test_a_coordinator_sees_reviews_waiting_for_a_reviewer(owner, site_a, neuro, coordinator):
    policy(neuro, share="100")
    waiting = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    assert waiting is not None
    assert waiting.status == ReviewStatus.UNASSIGNED

    client = client_of(coordinator)
    assert b"data-reviews-waiting" in client.get(reverse("worklist")).content
    html = client.get(reverse("reviews")).content.decode()
    assert f'data-review-row="{waiting.id}"' in html
    assert page_of(waiting) in html  # it opens on the reading page
    opened = client.get(page_of(waiting)).content.decode()
    assert "Waiting for a reviewer." in opened
    assert "data-score-form" not in opened


def test_a_site_user_sees_no_review_panel(task, site_user):
    html = client_of(site_user).get(reverse("worklist")).content
    assert b"data-peer-reviews" not in html


def test_figures_page_and_csv_show_the_readers_own_scores(task, owner, other_radiologist):
    review_score(task_id=task.id, user=other_radiologist.user, score="3b", comment="x")

    page = client_of(owner.user).get(reverse("review-figures"))
    assert page.status_code == 200
    assert b'data-score-table="reader"' in page.content
    response = client_of(owner.user).get(reverse("review-figures-csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:2] == ["group", "name"]
    reader = next(r for r in rows if r[0] == "reader")
    assert reader[1] == "Astrid Forfattersen"
    assert reader[-3:] == ["1", "1", "100.0"]

    # The reviewer's own reports were never reviewed: their figures are empty.
    other_rows = list(
        csv.reader(
            io.StringIO(
                client_of(other_radiologist.user)
                .get(reverse("review-figures-csv"))
                .content.decode()
            )
        )
    )
    assert len(other_rows) == 1


def test_the_indicators_page_links_the_figures_of_its_period(task, owner, other_radiologist):
    review_score(task_id=task.id, user=other_radiologist.user, score="1", comment="")
    client = client_of(owner.user)
    today = timezone.localdate()
    first, last = (
        (today - dt.timedelta(days=60)).isoformat(),
        (today - dt.timedelta(days=31)).isoformat(),
    )

    html = client.get(reverse("indicators"), {"from": first, "to": last}).content.decode()
    assert "data-peer-review-link" in html
    assert f"?from={first}&amp;to={last}" in html

    # The review was scored today: outside that earlier period, inside today.
    earlier = client.get(reverse("review-figures-csv"), {"from": first, "to": last})
    assert len(list(csv.reader(io.StringIO(earlier.content.decode())))) == 1
    now = client.get(
        reverse("review-figures-csv"), {"from": today.isoformat(), "to": today.isoformat()}
    )
    assert len(list(csv.reader(io.StringIO(now.content.decode())))) == 3  # header, reader, worklist


def test_the_worklist_page_costs_the_same_queries_however_many_reviews(
    task, owner, other_radiologist, site_a, neuro
):
    client = client_of(other_radiologist.user)
    client.get(reverse("worklist"))  # warm: session, caches
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("worklist"))
    for _ in range(5):
        review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    with CaptureQueriesContext(connection) as six:
        html = client.get(reverse("worklist")).content.decode()

    assert html.count("data-queue-task=") == 6
    assert len(six.captured_queries) == len(one.captured_queries)
