"""Peer review's section of the indicators page, its CSV and API (quality.indicators_section
through the indicators' hook): scores per reader and per worklist of the period, scoped as the
page's own tables: a reader their own row, a coordinator every reader's, a site's users no
per-reader rows; a review scored outside the period is not counted."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from quality.models import ReviewTask
from quality.services.sampling import review_sample
from quality.services.scoring import review_score
from tests import factories
from tests.quality_support import final_version, policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(owner, other_radiologist, site_a, neuro):
    """Reviews of two of the owner's reports (1 and 3b), one of a second author's (2a), and
    one of the owner's scored 40 days ago (outside the default period)."""
    second = factories.RadiologistFactory(user__username="second")
    factories.credential(second, site_a)
    policy(neuro, share="100")
    tasks = []
    for author, score in ((owner, "1"), (owner, "3b"), (second, "2a"), (owner, "2b")):
        task = review_sample(version_id=final_version(author, site=site_a, worklist=neuro).id)
        assert task is not None
        assert task.reviewer is not None
        review_score(task_id=task.id, user=task.reviewer.user, score=score, comment="Seen.")
        tasks.append(task)
    ReviewTask.objects.filter(pk=tasks[-1].pk).update(
        reviewed_at=timezone.now() - dt.timedelta(days=40)
    )
    return second


def tables_of(body):
    return {table["key"]: table for table in body["tables"]}


def test_a_coordinator_sees_every_reader_and_worklist_in_the_api(
    scored, owner, coordinator, client_for
):
    body = client_for(coordinator).get(reverse("api-indicators")).json()

    tables = tables_of(body)
    readers = {row["group"]: row for row in tables["peer_review_readers"]["rows"]}
    assert set(readers) == {owner.display_name, scored.display_name}
    mine = readers[owner.display_name]
    assert (mine["score_1"], mine["score_3b"], mine["score_2b"]) == (1, 1, 0)  # 2b: 40 days ago
    assert (mine["scored"], mine["significant"], mine["significant_share"]) == (2, 1, 0.5)
    (worklist,) = tables["peer_review_worklists"]["rows"]
    assert (worklist["group"], worklist["scored"], worklist["significant"]) == (
        "Nevroradiologi",
        3,
        1,
    )
    keys = [c["key"] for c in tables["peer_review_readers"]["columns"]]
    assert keys[:6] == ["group", "score_1", "score_2a", "score_2b", "score_3a", "score_3b"]


def test_a_reader_sees_only_their_own_row(scored, owner, client_for):
    body = client_for(owner.user).get(reverse("api-indicators")).json()

    rows = tables_of(body)["peer_review_readers"]["rows"]
    assert [row["group"] for row in rows] == [owner.display_name]


def test_a_reviewer_who_authored_nothing_reviewed_sees_no_reader_row(
    scored, other_radiologist, client_for
):
    body = client_for(other_radiologist.user).get(reverse("api-indicators")).json()

    assert tables_of(body)["peer_review_readers"]["rows"] == []


def test_a_sites_user_sees_the_worklists_but_no_reader(scored, site_user, client_for):
    body = client_for(site_user).get(reverse("api-indicators")).json()

    tables = tables_of(body)
    assert "peer_review_readers" not in tables
    assert tables["peer_review_worklists"]["rows"][0]["scored"] == 3


def test_another_sites_reader_sees_none_of_these_reviews(scored, outsider, client_for):
    body = client_for(outsider.user).get(reverse("api-indicators")).json()

    tables = tables_of(body)
    assert tables["peer_review_readers"]["rows"] == []
    assert tables["peer_review_worklists"]["rows"] == []


def test_the_page_shows_the_section_and_its_tables_download_as_csv(scored, owner, coordinator):
    client = Client()
    client.force_login(coordinator)

    html = client.get(reverse("indicators")).content.decode()
    response = client.get(reverse("indicators-csv", args=["peer_review_readers"]))

    assert "data-peer-review-section" in html
    assert 'data-table="peer_review_readers"' in html
    assert 'data-table="peer_review_worklists"' in html
    # RADPEER's codes keep their case in the headers ("2a", not the headers' capitals "2A")
    assert '<th scope="col" class="indicator-count indicator-verbatim">2a</th>' in html
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Reader", "1", "2a"]
    assert rows[0][-1] == "Share significant (%)"
    by_reader = {row[0]: row for row in rows[1:]}
    assert by_reader[owner.display_name][-3:] == ["2", "1", "50.0"]


def test_a_sites_user_gets_no_reader_csv(scored, site_user):
    client = Client()
    client.force_login(site_user)

    assert client.get(reverse("indicators-csv", args=["peer_review_readers"])).status_code == 404
    worklists = client.get(reverse("indicators-csv", args=["peer_review_worklists"]))
    assert worklists.status_code == 200
