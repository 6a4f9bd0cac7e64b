"""The worklist page's queue is the reader's whole reading order: their peer reviews sit among
their studies in their places (a routine study's rank, the review's deadline), labelled, with
their deadlines; the live row endpoint keeps a review's row while it is open and drops it once
scored, and the queue count counts it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from quality.models import ReviewTask
from quality.reading_order import review_reading_url
from quality.services.sampling import review_sample
from quality.services.scoring import review_score
from teleradiology.asgi import application
from tests import factories
from tests.quality_support import client_of, final_version, policy
from worklists.models import Study, StudyEvent
from worklists.selectors import studies_changed_since

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(owner, other_radiologist, site_a, neuro):
    policy(neuro, share="100", blind_author=True)
    made = review_sample(version_id=final_version(owner, site=site_a, worklist=neuro).id)
    assert made is not None
    ReviewTask.objects.filter(id=made.id).update(deadline=timezone.now() + dt.timedelta(hours=5))
    made.refresh_from_db()
    return made


def queue_order(html: str) -> list[str]:
    """The queue's rows in page order: "study:<id>" or "task:<id>"."""
    queue = html.split('data-live-list="queue"')[1].split("</tbody>")[0]
    rows = re.findall(
        r'<tr [^>]*?data-queue-study-id="(\d+)"(?: data-queue-task="[^:]+:(\d+)")?', queue
    )
    return [f"task:{task}" if task else f"study:{study}" for study, task in rows]


def test_the_review_sits_between_the_studies_by_the_reading_order(
    review, other_radiologist, site_a, neuro
):
    now = timezone.now()

    def held(hours: float, rank: int = 3) -> Study:
        study = factories.held_study(other_radiologist, site=site_a, worklist=neuro)
        # marking it ready gave it its contract's deadline: set the one this test needs
        Study.objects.filter(id=study.id).update(
            deadline=now + dt.timedelta(hours=hours), routing_rank=rank
        )
        return study

    sooner, later, stat = held(1), held(9), held(30, rank=0)

    html = client_of(other_radiologist.user).get(reverse("worklist")).content.decode()

    assert queue_order(html) == [
        f"study:{stat.id}",
        f"study:{sooner.id}",
        f"task:{review.id}",
        f"study:{later.id}",
    ]
    assert 'data-task-kind="peer-review">Peer review<' in html
    assert review_reading_url(study_id=review.study_id, review_id=review.id) in html
    assert 'id="queue-count">4<' in html
    assert "Forfattersen" not in html


def test_the_live_row_keeps_the_open_review_and_drops_it_once_scored(
    review, other_radiologist, site_a, neuro
):
    factories.held_study(other_radiologist, site=site_a, worklist=neuro)
    client = client_of(other_radiologist.user)
    url = reverse("worklist-row", args=[review.study_id])

    open_row = client.get(url).content.decode()
    review_score(task_id=review.id, user=other_radiologist.user, score="1", comment="")
    scored_row = client.get(url).content.decode()

    assert f'data-queue-task="peer-review:{review.id}"' in open_row
    assert 'id="queue-count" hx-swap-oob="true">2<' in open_row
    assert "data-queue-task" not in scored_row
    assert 'id="queue-count" hx-swap-oob="true">1<' in scored_row


def _session_cookie(user) -> bytes:
    client = client_of(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


@pytest.mark.django_db(transaction=True)
def test_the_reviewers_live_page_hears_that_a_review_was_assigned_to_them(
    owner, other_radiologist, site_a, neuro
):
    policy(neuro, share="100", blind_author=True)
    version = final_version(owner, site=site_a, worklist=neuro)
    cookie = _session_cookie(other_radiologist.user)

    async def scenario() -> list[dict]:
        communicator = WebsocketCommunicator(
            application,
            "/ws/worklist/",
            headers=[
                (b"origin", b"http://testserver"),
                (b"host", b"testserver"),
                (b"cookie", cookie),
            ],
        )
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        await database_sync_to_async(review_sample)(version_id=version.id)
        heard = [await communicator.receive_json_from(timeout=5)]
        await communicator.disconnect()
        return heard

    [message] = async_to_sync(scenario)()

    assert (message["type"], message["study_id"]) == ("review.changed", version.study_id)
    task = ReviewTask.objects.get(study_id=version.study_id)
    assert task.reviewer_id == other_radiologist.id


def test_a_page_offline_while_a_review_was_assigned_refetches_its_row_on_resync(
    review, other_radiologist, outsider
):
    """The assignment wrote no study event and left the study row as it was: the resync lists
    the study because of the review's own event, to those who may see it only."""
    before = review.events.order_by("at").first()
    assert before is not None
    since_ms = int((before.at - dt.timedelta(minutes=5)).timestamp() * 1000)
    now = before.at + dt.timedelta(minutes=1)
    # The study's own changes are older than the gap: only the review's event is in it.
    Study.objects.filter(id=review.study_id).update(updated_at=before.at - dt.timedelta(hours=1))
    StudyEvent.objects.filter(study_id=review.study_id).update(at=before.at - dt.timedelta(hours=1))

    mine = studies_changed_since(user=other_radiologist.user, since_ms=since_ms, now=now)
    theirs = studies_changed_since(user=outsider.user, since_ms=since_ms, now=now)

    assert (mine.full, mine.study_ids) == (False, [review.study_id])
    assert theirs.study_ids == []
