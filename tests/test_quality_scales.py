"""Review scales as data (quality.models.ReviewScale): RADPEER seeded as the default by a data
migration, a local scale beside it; a policy chooses its scale, scoring validates against it,
a significant level alerts, figures group by level; coordinators edit scales in the admin."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from quality.models import PeerReviewPolicy, ReviewScale, ReviewScaleLevel, ReviewStatus, ReviewTask
from quality.selectors import review_figures, viewer_of
from quality.services.errors import ReviewInvalid
from quality.services.sampling import review_sample
from quality.services.scoring import DISCREPANCY_ALERT, review_score
from tests.quality_support import final_version, policy
from worklists.models import CoordinatorAlert


def local_scale() -> ReviewScale:
    scale = ReviewScale.objects.create(code="local", name="Lokal")
    for position, (code, significant, needs_comment) in enumerate(
        [("A", False, False), ("B", False, True), ("C", True, True)]
    ):
        ReviewScaleLevel.objects.create(
            scale=scale,
            position=position,
            code=code,
            label=f"{code}: level",
            significant=significant,
            needs_comment=needs_comment,
        )
    return scale


def sampled(author, site, worklist):
    task = review_sample(version_id=final_version(author, site=site, worklist=worklist).id)
    assert task is not None
    return task


@pytest.mark.django_db
def test_radpeer_is_seeded_as_the_default_scale_with_2b_and_3b_significant():
    radpeer = ReviewScale.objects.get(code="radpeer")
    assert radpeer.is_default
    levels = list(radpeer.levels.order_by("position"))
    assert [lv.code for lv in levels] == ["1", "2a", "2b", "3a", "3b"]
    assert {lv.code for lv in levels if lv.significant} == {"2b", "3b"}
    assert [lv.code for lv in levels if not lv.needs_comment] == ["1"]


@pytest.mark.django_db
def test_a_policy_on_a_local_scale_scores_on_its_levels_only(
    owner, other_radiologist, site_a, neuro
):
    scale = local_scale()
    policy(neuro, share="100", scale=scale)
    task = sampled(owner, site_a, neuro)
    assert task.scale_id == scale.id

    with pytest.raises(ReviewInvalid) as refused:
        review_score(task_id=task.id, user=other_radiologist.user, score="2b", comment="x")
    assert refused.value.field == "score"
    with pytest.raises(ReviewInvalid) as uncommented:
        review_score(task_id=task.id, user=other_radiologist.user, score="B", comment=" ")
    assert uncommented.value.field == "comment"

    review_score(task_id=task.id, user=other_radiologist.user, score="A", comment="")

    task.refresh_from_db()
    assert (task.status, task.score, task.level.code) == (ReviewStatus.SCORED, "A", "A")
    assert not CoordinatorAlert.objects.filter(kind=DISCREPANCY_ALERT).exists()


@pytest.mark.django_db
def test_a_significant_level_of_a_local_scale_alerts_the_coordinators(
    owner, other_radiologist, site_a, neuro
):
    policy(neuro, share="100", scale=local_scale())
    task = sampled(owner, site_a, neuro)

    review_score(task_id=task.id, user=other_radiologist.user, score="C", comment="Missed it.")

    alert = CoordinatorAlert.objects.get(kind=DISCREPANCY_ALERT)
    assert alert.study_id == task.study_id
    assert alert.data["scale"] == "local"
    assert alert.data["score"] == "C"
    assert "Lokal C" in alert.message


@pytest.mark.django_db
def test_a_review_keeps_the_scale_it_was_sampled_on_when_the_policy_changes_scale(
    owner, other_radiologist, site_a, neuro
):
    chosen = policy(neuro, share="100")  # no scale named: the default, RADPEER
    task = sampled(owner, site_a, neuro)
    chosen.scale = local_scale()
    chosen.save(update_fields=["scale"])

    review_score(task_id=task.id, user=other_radiologist.user, score="3b", comment="Missed.")

    task.refresh_from_db()
    assert (task.scale.code, task.level.code, task.is_significant) == ("radpeer", "3b", True)


@pytest.mark.django_db
def test_figures_group_by_level_of_each_scale(owner, other_radiologist, coordinator, site_a, neuro):
    chosen = policy(neuro, share="100")
    on_radpeer = [sampled(owner, site_a, neuro) for _ in range(2)]
    chosen.scale = local_scale()
    chosen.save(update_fields=["scale"])
    on_local = [sampled(owner, site_a, neuro) for _ in range(2)]
    for task, score in zip(on_radpeer + on_local, ["1", "2b", "C", "A"], strict=True):
        review_score(task_id=task.id, user=other_radiologist.user, score=score, comment="Seen.")

    figures = review_figures(viewer=viewer_of(coordinator))

    assert figures.scores == ["1", "2a", "2b", "3a", "3b", "local:A", "local:C"]
    [reader] = figures.readers
    assert reader.counts == {"1": 1, "2b": 1, "local:C": 1, "local:A": 1}
    assert reader.in_order == (1, 0, 1, 0, 0, 1, 1)
    assert (reader.total, reader.significant, str(reader.significant_percent)) == (4, 2, "50.0")


@pytest.mark.django_db
def test_coordinators_edit_scales_and_their_levels_in_the_admin(coordinator):
    coordinator.is_staff = True
    coordinator.is_superuser = True
    coordinator.save()
    client = Client()
    client.force_login(coordinator)
    assert client.get(reverse("admin:quality_reviewscale_changelist")).status_code == 200

    response = client.post(
        reverse("admin:quality_reviewscale_add"),
        {
            "code": "kort",
            "name": "Kort skala",
            "levels-TOTAL_FORMS": "2",
            "levels-INITIAL_FORMS": "0",
            "levels-MIN_NUM_FORMS": "0",
            "levels-MAX_NUM_FORMS": "1000",
            "levels-0-position": "0",
            "levels-0-code": "OK",
            "levels-0-label": "Agree",
            "levels-1-position": "1",
            "levels-1-code": "FEIL",
            "levels-1-label": "Significant miss",
            "levels-1-significant": "on",
            "levels-1-needs_comment": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    scale = ReviewScale.objects.get(code="kort")
    assert [(lv.code, lv.significant) for lv in scale.levels.order_by("position")] == [
        ("OK", False),
        ("FEIL", True),
    ]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_the_backfill_puts_existing_policies_and_scored_reviews_on_radpeer(
    owner, other_radiologist, site_a, neuro
):
    version = final_version(owner, site=site_a, worklist=neuro)
    now = timezone.now()
    try:
        executor = _migrate([("quality", "0001_initial")])
        old = executor.loader.project_state([("quality", "0001_initial")]).apps
        old_policy = old.get_model("quality", "PeerReviewPolicy").objects.create(
            worklist_id=neuro.id, share_percent=10
        )
        old_task = old.get_model("quality", "ReviewTask").objects.create(
            study_id=version.study_id,
            version_id=version.id,
            worklist_id=neuro.id,
            author_id=owner.id,
            reviewer_id=other_radiologist.id,
            status="SCORED",
            blind_author=True,
            created_at=now,
            deadline=now,
            assigned_at=now,
            score="3a",
            comment="Missed.",
            reviewed_at=now,
        )
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    task = ReviewTask.objects.get(pk=old_task.pk)
    assert (task.scale.code, task.level.code, task.level.significant) == ("radpeer", "3a", False)
    chosen = PeerReviewPolicy.objects.get(pk=old_policy.pk)
    assert chosen.scale is not None
    assert chosen.scale.code == "radpeer"
    assert chosen.active_since is not None


@pytest.mark.django_db
def test_radpeer_is_seeded_again_when_its_rows_are_gone(owner, other_radiologist, site_a, neuro):
    """A database emptied after its migrations (a flushed test database, a dump restored without
    data): the first review seeds RADPEER again, as migration 0003 does."""
    seeded = [
        (lv.code, lv.label, lv.significant, lv.needs_comment)
        for lv in ReviewScaleLevel.objects.filter(scale__code="radpeer").order_by("position")
    ]
    ReviewScale.objects.all().delete()
    policy(neuro, share="100")

    task = sampled(owner, site_a, neuro)
    review_score(task_id=task.id, user=other_radiologist.user, score="2b", comment="Missed.")

    again = [
        (lv.code, lv.label, lv.significant, lv.needs_comment)
        for lv in ReviewScaleLevel.objects.filter(scale__code="radpeer").order_by("position")
    ]
    assert again == seeded
    assert ReviewScale.objects.get(code="radpeer").is_default
    assert CoordinatorAlert.objects.filter(kind=DISCREPANCY_ALERT).exists()
