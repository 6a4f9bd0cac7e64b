"""reports.services.reading.study_read_next: the study a reader goes on to after finishing one.

The read-next rule (study_claim_next) decides first; when it claims nothing, the most urgent
study already waiting unopened in the reader's own queue is next; never the study just
finished; nothing for someone who is not a radiologist."""

from __future__ import annotations

import pytest

from reports.services.reading import study_read_next
from tests import factories
from worklists.models import Assignment, StudyEvent, StudyStatus
from worklists.services.routing import forget_coverage_cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_coverage():
    forget_coverage_cache()


@pytest.fixture
def reader(owner, neuro):
    factories.shift(owner, worklists=(neuro,))
    return owner


def test_it_claims_the_first_free_study_in_reading_order(reader, site_a, neuro):
    factories.ready_study(site_a, neuro, priority="ROUTINE")
    stat = factories.ready_study(site_a, neuro, priority="STAT")

    following = study_read_next(user=reader.user)

    assert following is not None
    assert (following.study_id, following.claimed) == (stat.id, True)
    assert Assignment.objects.get(study=stat, ended_at__isnull=True).radiologist_id == reader.id
    assert StudyEvent.objects.filter(study=stat, to_status=StudyStatus.ASSIGNED).count() == 1


def test_it_opens_the_most_urgent_study_waiting_in_the_readers_queue_when_nothing_is_free(
    reader, site_a, neuro
):
    routine = factories.held_study(reader, site=site_a, priority="ROUTINE", routing_rank=3)
    urgent = factories.held_study(reader, site=site_a, priority="URGENT", routing_rank=1)
    events = StudyEvent.objects.count()

    following = study_read_next(user=reader.user)

    assert following is not None
    assert (following.study_id, following.claimed) == (urgent.id, False)
    assert StudyEvent.objects.count() == events  # nothing changed hands
    after_urgent = study_read_next(user=reader.user, after_study_id=urgent.id)
    assert after_urgent is not None
    assert after_urgent.study_id == routine.id


def test_it_never_returns_the_study_just_finished_nor_one_being_written(reader, site_a):
    just_read = factories.held_study(reader, site=site_a)
    being_written = factories.held_study(reader, site=site_a)
    being_written.status = StudyStatus.IN_PROGRESS
    being_written.save(update_fields=["status"])

    assert study_read_next(user=reader.user, after_study_id=just_read.id) is None


def test_it_gives_nothing_to_someone_who_is_not_a_radiologist(site_user, site_a, neuro):
    study = factories.ready_study(site_a, neuro)

    assert study_read_next(user=site_user) is None
    assert not Assignment.objects.filter(study=study).exists()


def test_it_gives_nothing_of_another_readers_queue(reader, other_radiologist, site_a):
    factories.held_study(other_radiologist, site=site_a)

    assert study_read_next(user=reader.user) is None
