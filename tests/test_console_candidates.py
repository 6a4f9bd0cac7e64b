"""Reassign from any row: the readers a study may go to, judged by the routing rules and shown
with the load board's own figures; choosing an excluded reader is an override, with a reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from tests import factories
from tests.console_support import operation
from worklists.actors import Actor
from worklists.console import selectors
from worklists.console.candidates import study_candidates
from worklists.errors import StudyNotFound
from worklists.models import Assignment, AuditEvent, RoutingDecision
from worklists.services.alerts import NotACoordinator, alert_raise
from worklists.services.claims import study_coordinator_assign
from worklists.services.studies import ReasonRequired
from worklists.services.surges import surge_start

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


@pytest.fixture
def op(site_a, site_b, neuro, owner, fresh_routing_caches):
    return operation(site_a=site_a, site_b=site_b, neuro=neuro, owner=owner)


@pytest.fixture
def idle_colleague(op, site_a, neuro):
    """On shift for neuro with an empty queue: eligible and less loaded than the owner."""
    reader = factories.RadiologistFactory(user__username="idle", user__last_name="Dahl")
    factories.credential(reader, site_a)
    factories.competence(reader, neuro)
    factories.shift(reader, starts_at=op.now - H, ends_at=op.now + 7 * H)
    return reader


@pytest.fixture
def not_competent(op, site_a):
    """Credentialed at the site and on shift, but reads no neuro."""
    reader = factories.RadiologistFactory(user__username="mskonly", user__last_name="Lie")
    factories.credential(reader, site_a)
    factories.shift(reader, starts_at=op.now - H, ends_at=op.now + 7 * H)
    return reader


def test_eligible_readers_come_first_least_loaded_first_and_the_excluded_say_why(
    op, coordinator, idle_colleague, not_competent
):
    chooser = study_candidates(user=coordinator, study_id=op.soon.id, now=op.now)

    order = [c.radiologist.id for c in chooser.readers]
    # the idle colleague (0 WU held) before the owner (3.5 WU held); then the excluded, those
    # on shift first; the reader credentialed only at the other site is not offered at all
    assert order == [idle_colleague.id, op.on_shift.id, not_competent.id, op.next_up.id]
    verdicts = {c.radiologist.id: c.excluded_because for c in chooser.readers}
    assert verdicts[idle_colleague.id] == ""
    assert verdicts[op.on_shift.id] == ""
    assert verdicts[not_competent.id] == "not competent in this worklist"
    assert verdicts[op.next_up.id] == "not on shift"
    assert op.off_shift.id not in verdicts
    assert [c.radiologist.id for c in chooser.eligible] == [idle_colleague.id, op.on_shift.id]
    assert chooser.not_assignable_because == ""
    # routing would push it to the reader further behind their target: the colleague
    assert [c.radiologist.id for c in chooser.readers if c.routing_choice] == [idle_colleague.id]


def test_the_load_figures_are_the_load_boards_own(op, coordinator, idle_colleague):
    board = {r.radiologist.id: r for r in selectors.load_board(user=coordinator, now=op.now)}
    chooser = study_candidates(user=coordinator, study_id=op.soon.id, now=op.now)

    def figures(load):
        return (
            load.on_shift,
            load.shift_ends_at,
            load.next_shift_at,
            load.queue_count,
            load.queue_work_units,
            load.done_work_units,
            load.target_work_units,
            load.open_study.id if load.open_study else None,
            load.opened_at,
        )

    for candidate in chooser.readers:
        assert figures(candidate.load) == figures(board[candidate.radiologist.id])
    owner_load = next(c.load for c in chooser.readers if c.radiologist.id == op.on_shift.id)
    # worked out by hand in tests/console_support.py: late (2.0) and calm (1.5) held, late open
    assert (owner_load.queue_count, owner_load.queue_work_units) == (2, Decimal("3.5"))
    assert owner_load.open_study.id == op.late.id


def test_a_reader_off_every_board_is_offered_with_empty_figures(op, coordinator, site_a):
    resting = factories.RadiologistFactory(user__username="resting")
    factories.credential(resting, site_a)

    chooser = study_candidates(user=coordinator, study_id=op.soon.id, now=op.now)

    [row] = [c for c in chooser.readers if c.radiologist.id == resting.id]
    assert (row.load.on_shift, row.load.queue_count, row.load.next_shift_at) == (False, 0, None)
    assert row.excluded_because == "not competent in this worklist"


def test_a_reader_whose_credential_has_lapsed_or_not_begun_is_not_offered(op, coordinator, site_a):
    lapsed = factories.RadiologistFactory(user__username="lapsed")
    factories.credential(lapsed, site_a, valid_until=op.now.date() - dt.timedelta(days=2))
    future = factories.RadiologistFactory(user__username="future")
    factories.credential(future, site_a, valid_from=op.now.date() + dt.timedelta(days=2))

    chooser = study_candidates(user=coordinator, study_id=op.soon.id, now=op.now)

    offered = {c.radiologist.id for c in chooser.readers}
    assert lapsed.id not in offered
    assert future.id not in offered


def test_the_holder_is_shown_holding_it_and_not_offered(op, coordinator):
    chooser = study_candidates(user=coordinator, study_id=op.late.id, now=op.now)

    [holder] = [c for c in chooser.readers if c.holds_it]
    assert holder.radiologist.id == op.on_shift.id
    assert op.on_shift.id not in [c.radiologist.id for c in chooser.eligible + chooser.overrides]


def test_only_coordinators_see_candidates_and_only_of_studies_there(
    op, owner, site_user, coordinator, client_for, client
):
    with pytest.raises(NotACoordinator):
        study_candidates(user=owner.user, study_id=op.soon.id)
    with pytest.raises(StudyNotFound):
        study_candidates(user=coordinator, study_id=999_999)
    api = reverse("api-study-candidates", kwargs={"study_id": op.soon.id})
    page = reverse("console-candidates", kwargs={"study_id": op.soon.id})
    for user in (owner.user, site_user):
        assert client_for(user).get(api).status_code == 403
        client.force_login(user)
        assert client.get(page).status_code == 403
    missing = reverse("api-study-candidates", kwargs={"study_id": 999_999})
    assert client_for(coordinator).get(missing).status_code == 404


def test_the_api_lists_the_candidates_with_their_load_and_audits_the_read(
    op, coordinator, client_for, idle_colleague
):
    url = reverse("api-study-candidates", kwargs={"study_id": op.soon.id})

    body = client_for(coordinator).get(url).json()

    assert body["study_id"] == op.soon.id
    assert body["not_assignable_because"] == ""
    first, owner_row, excluded = body["readers"]
    assert (first["load"]["reader"]["id"], first["eligible"]) == (idle_colleague.id, True)
    assert (owner_row["load"]["queue_count"], owner_row["load"]["queue_work_units"]) == (
        2,
        "3.50",
    )
    assert (excluded["eligible"], excluded["excluded_because"]) == (False, "not on shift")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.STUDY_VIEW, object_id=str(op.soon.id), channel="api"
    ).exists()
    schema = client_for(coordinator).get(reverse("schema")).content.decode()
    assert "/api/v1/studies/{study_id}/candidates" in schema


def test_an_override_needs_a_reason_and_is_recorded_with_the_rule_it_overrides(
    op, coordinator, idle_colleague
):
    actor = Actor.for_user(coordinator)
    with pytest.raises(ReasonRequired):
        study_coordinator_assign(
            study_id=op.soon.id, radiologist_id=op.next_up.id, actor=actor, reason=" "
        )
    assert not Assignment.objects.filter(study=op.soon, ended_at__isnull=True).exists()

    study_coordinator_assign(
        study_id=op.soon.id, radiologist_id=op.next_up.id, actor=actor, reason="knows the case"
    )
    study_coordinator_assign(
        study_id=op.soon.id, radiologist_id=idle_colleague.id, actor=actor, reason="on shift"
    )

    override, chosen = (
        d.trace
        for d in RoutingDecision.objects.filter(
            study=op.soon, mode=RoutingDecision.Mode.MANUAL
        ).order_by("id")
    )
    assert (override["override"], override["overrides"], override["reason"]) == (
        True,
        "not on shift",
        "knows the case",
    )
    assert (chosen["override"], chosen["overrides"]) == (False, "")


def test_the_console_offers_assign_on_at_risk_and_alert_rows_and_assigns_from_the_chooser(
    op, coordinator, client, idle_colleague
):
    alert_raise(kind="routing.escalation", message="nobody reads it", study_id=op.soon.id)
    client.force_login(coordinator)
    html = client.get(reverse("console")).content.decode()
    chooser_url = reverse("console-candidates", kwargs={"study_id": op.soon.id})
    # on its at-risk row and on its alert
    assert html.count(f'hx-get="{chooser_url}"') == 2

    chooser = client.get(chooser_url).content.decode()
    assert chooser.index(f'data-candidate-id="{idle_colleague.id}"') < chooser.index(
        f'data-candidate-id="{op.next_up.id}"'
    )
    assert "Override" in chooser
    assert "not on shift" in chooser

    answer = client.post(
        reverse("console-study-assign", kwargs={"study_id": op.soon.id}),
        {"radiologist_id": idle_colleague.id, "reason": "least loaded"},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200
    assert "assigned to" in answer.content.decode()
    active = Assignment.objects.get(study=op.soon, ended_at__isnull=True)
    assert (active.radiologist_id, active.reason) == (idle_colleague.id, "least loaded")

    refused = client.post(
        reverse("console-study-assign", kwargs={"study_id": op.soon.id}),
        {"radiologist_id": op.on_shift.id, "reason": ""},
        HTTP_HX_REQUEST="true",
    )
    assert "needs a reason" in refused.content.decode()
    assert Assignment.objects.get(study=op.soon, ended_at__isnull=True).radiologist_id == (
        idle_colleague.id
    )


def test_the_study_page_shows_the_chooser_instead_of_bare_names(
    op, coordinator, client, idle_colleague
):
    client.force_login(coordinator)
    html = client.get(reverse("study", args=[op.soon.id])).content.decode()

    assert f'data-candidate-id="{idle_colleague.id}"' in html
    assert "not on shift" in html
    assert reverse("study-assign", args=[op.soon.id]) in html
    assert 'id="assign-radiologist"' not in html


def test_a_running_surge_raises_the_tier_the_chooser_judges_and_shows(op, coordinator):
    backup = factories.RadiologistFactory(user__username="backup", user__last_name="Berg")
    factories.credential(backup, op.soon.site)
    factories.competence(backup, op.soon.worklist, level="BACKUP")
    factories.shift(backup, starts_at=op.now - H, ends_at=op.now + 7 * H)
    before = study_candidates(user=coordinator, study_id=op.soon.id, now=op.now)
    assert (before.tier, before.raised_by_surge) == (0, False)
    assert not {c.radiologist.id for c in before.eligible} & {backup.id}

    surge_start(
        actor=Actor(user_id=coordinator.id, label="coord"),
        worklist_id=op.soon.worklist_id,
        tier=None,
        reason="CT outage",
        ends_at=op.now + 2 * H,
        now=op.now,
    )
    during = study_candidates(user=coordinator, study_id=op.soon.id, now=op.now)

    assert (during.tier, during.raised_by_surge) == (1, True)
    assert backup.id in {c.radiologist.id for c in during.eligible}
