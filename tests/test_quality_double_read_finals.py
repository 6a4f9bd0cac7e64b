"""Peer review of a double-read study's final: the readers whose independent reads went into it
never review it, and a blind review hides the section that names them, also from a reviewer
who is a coordinator too, until they have scored."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from quality.services.sampling import review_sample
from quality.services.scoring import review_score
from reports.models import ReportVersion
from tests.double_reading_support import NORMAL, make_cast, screening_study, sign_read
from tests.quality_support import policy
from worklists.access import COORDINATORS_GROUP

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_routing_caches")]


@pytest.fixture
def reviewed():
    """Two agreeing reads (reader1, then reader2, who signs the joint final), under review."""
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL)
    sign_read(study, cast.reader2, NORMAL)
    final = ReportVersion.objects.get(study=study, kind="FINAL")
    assert any(s["key"] == "double_reading" for s in final.sections)
    policy(cast.mamma, share="100", blind_author=True)
    task = review_sample(version_id=final.id)
    assert task is not None
    return cast, task


def test_neither_reader_of_a_double_read_final_reviews_it(reviewed):
    cast, task = reviewed

    assert task.author_id == cast.reader2.id
    assert task.reviewer_id not in (None, cast.reader1.id, cast.reader2.id)


def test_a_blind_review_hides_the_section_naming_the_readers(reviewed, client_for):
    _cast, task = reviewed
    reviewer = task.reviewer.user
    client = Client()
    client.force_login(reviewer)

    page = client.get(reverse("review", args=[task.id]), follow=True).content.decode()
    assert "data-reading-task" in page  # the reading page, for the review
    api = client_for(reviewer).get(reverse("api-review", args=[task.id])).json()

    for shown in (page, str(api)):
        assert "Reader1" not in shown
        assert "Reader2" not in shown
    assert "double_reading" not in [s["key"] for s in api["report_sections"]]
    assert api["author"] is None


def test_a_coordinator_reviewing_blind_sees_no_author_until_scored(reviewed, client_for):
    cast, task = reviewed
    reviewer = task.reviewer.user
    reviewer.groups.add(Group.objects.get_or_create(name=COORDINATORS_GROUP)[0])

    before = client_for(reviewer).get(reverse("api-review", args=[task.id])).json()
    review_score(task_id=task.id, user=reviewer, score="1", comment="")
    after = client_for(reviewer).get(reverse("api-review", args=[task.id])).json()

    assert before["author"] is None
    assert after["author"] == cast.reader2.display_name
    assert "double_reading" in [s["key"] for s in after["report_sections"]]
    # another coordinator, not reviewing, sees it all along
    assert (
        client_for(cast.coordinator).get(reverse("api-review", args=[task.id])).json()["author"]
        == cast.reader2.display_name
    )


def test_who_wrote_a_draft_of_one_of_the_reads_never_reviews_the_final():
    """reader_b began reader1's read and released it: of the others only the arbitrator may
    review."""
    cast = make_cast()
    study = screening_study(cast)
    first = sign_read(study, cast.reader1, NORMAL)
    first.draft_authors.add(cast.reader_b)
    sign_read(study, cast.reader2, NORMAL)
    policy(cast.mamma, share="100")

    task = review_sample(version_id=ReportVersion.objects.get(study=study, kind="FINAL").id)

    assert task is not None
    assert task.reviewer_id == cast.arbitrator.id


def test_a_blind_review_of_a_joint_final_shows_the_readers_as_reader_1_and_2(client_for):
    """The reads agree but are written differently: the joint final keeps both texts under
    their readers' names, which a blind reviewer must not read."""
    cast = make_cast()
    study = screening_study(cast)
    sign_read(study, cast.reader1, NORMAL, text="Ingen suspekte funn.")
    sign_read(study, cast.reader2, NORMAL, text="Normal mammografi bilateralt.")
    final = ReportVersion.objects.get(study=study, kind="FINAL")
    assert cast.reader1.display_name in str(final.sections)
    policy(cast.mamma, share="100", blind_author=True)
    task = review_sample(version_id=final.id)
    assert task is not None
    assert task.reviewer is not None
    reviewer = task.reviewer.user

    api = client_for(reviewer).get(reverse("api-review", args=[task.id])).json()
    client = Client()
    client.force_login(reviewer)
    page = client.get(reverse("review", args=[task.id]), follow=True).content.decode()

    for shown in (page, str(api)):
        assert cast.reader1.display_name not in shown
        assert cast.reader2.display_name not in shown
    texts = " ".join(s["text"] for s in api["report_sections"])
    assert "Reader 1:\nIngen suspekte funn." in texts
    assert "Reader 2:\nNormal mammografi bilateralt." in texts
