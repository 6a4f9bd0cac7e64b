"""The site portal (issue 16, item 6): a site's studies by state, with report and delivery
status, returned referrals with their reason, exact search within the site, a CSV of a period;
scoped to the site, audited, and at a query count that does not grow with the rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports.portal import selectors
from reports.portal.selectors import PortalFilters, portal_access
from reports.portal.states import (
    DeliveryStatus,
    MessageFacts,
    PortalState,
    ReportStatus,
    delivery_summary,
)
from tests import factories
from tests.portal_support import RETURN_COMMENT, SIGNED_FINDINGS, site_studies, site_user_of
from worklists.models import AuditEvent, PatientIdentifier, Study
from worklists.services.preferences import user_language_set

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def studies(site_a, site_b, neuro, owner):
    return site_studies(site=site_a, other_site=site_b, worklist=neuro, reader=owner)


@pytest.fixture
def bravo_user(site_b):
    return site_user_of(site_b, "bravo-desk")


def english(user) -> None:
    user_language_set(user_id=user.pk, language="en")


def listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="portal-row[^"]*" data-study-id="(\d+)"', html)]


def page(client, user, **query):
    english(user)
    client.force_login(user)
    response = client.get(reverse("site-portal"), query)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


# The rules ------------------------------------------------------------------------------------


def test_every_study_status_has_exactly_one_portal_state():
    from reports.portal.states import STATE_OF_STATUS, STATUSES
    from worklists.models import StudyStatus

    assert set(STATE_OF_STATUS) == set(StudyStatus.values)
    assert sum(len(s) for s in STATUSES.values()) == len(StudyStatus.values)


def _message(id_: int, status: str, attempts: int = 1, error: str = "") -> MessageFacts:
    return MessageFacts(id_, status, "F", attempts, error, "", None, None)


def test_a_dead_letter_outranks_the_deliveries_that_arrived():
    summary = delivery_summary(
        [
            _message(1, "DELIVERED"),
            _message(2, "DEAD", 12, "cannot connect"),
            _message(3, "PENDING", 0),
        ]
    )
    assert (summary.status, summary.last_error, summary.message_count) == (
        DeliveryStatus.DEAD,
        "cannot connect",
        3,
    )
    assert delivery_summary([_message(1, "PENDING", 0)]).status == DeliveryStatus.QUEUED
    assert delivery_summary([_message(1, "PENDING", 2, "AE")]).status == DeliveryStatus.RETRYING
    assert delivery_summary([]).status == DeliveryStatus.NONE


# Who opens which site --------------------------------------------------------------------------


def test_a_site_user_opens_their_own_site_and_no_other(site_user, site_a, site_b):
    assert portal_access(user=site_user).site == site_a
    assert portal_access(user=site_user, site_code="alfa").site == site_a
    with pytest.raises(selectors.NotASiteUser):
        portal_access(user=site_user, site_code="bravo")


def test_a_coordinator_chooses_any_site(coordinator, site_a, site_b, client):
    assert portal_access(user=coordinator).site is None
    assert portal_access(user=coordinator, site_code="bravo").site == site_b
    english(coordinator)
    client.force_login(coordinator)
    chooser = client.get(reverse("site-portal")).content.decode()
    assert "?site=alfa" in chooser
    assert "?site=bravo" in chooser


def test_a_coordinator_sees_the_chosen_sites_studies_as_the_site_does(client, coordinator, studies):
    assert listed_ids(page(client, coordinator, site="bravo")) == [studies.other_site.id]
    alfa = page(client, coordinator, site="alfa")
    assert listed_ids(alfa) == [s.id for s in studies.of_site()]
    assert f"{reverse('site-portal-report', args=[studies.final.id])}?site=alfa" in alfa
    assert client.get(reverse("site-portal"), {"site": "nowhere"}).status_code == 404


def test_a_radiologist_is_sent_to_the_worklist_with_the_reason(client, owner):
    english(owner.user)
    client.force_login(owner.user)
    response = client.get(reverse("site-portal"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("worklist")
    assert "The site portal is for a site" in response.content.decode()
    assert client.get(reverse("site-portal-csv")).status_code == 302


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get(reverse("site-portal"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_site_user_lands_on_the_portal_after_signing_in_and_a_radiologist_on_the_worklist(
    client, site_user, owner
):
    for user, landing in ((site_user, reverse("site-portal")), (owner.user, reverse("worklist"))):
        client.logout()
        response = client.post(
            reverse("login"), {"username": user.username, "password": factories.PASSWORD}
        )
        assert response.status_code == 302
        assert response["Location"] == landing


def test_the_menu_links_the_portal_for_site_users_and_coordinators_only(
    client, site_user, coordinator, owner
):
    for user, shown in ((site_user, True), (coordinator, True), (owner.user, False)):
        client.force_login(user)
        html = client.get(reverse("account")).content.decode()
        assert ("data-nav-portal" in html) is shown, user.username


# What the page shows ---------------------------------------------------------------------------


def test_the_states_group_the_sites_studies_with_counts(client, site_user, studies):
    html = page(client, site_user)

    counts = dict(re.findall(r'data-portal-tab="(\w+)".*?data-count>(\d+)<', html))
    assert counts == {
        "all": "9",
        "waiting": "3",
        "reading": "1",
        "preliminary": "1",
        "final": "2",
        "returned": "1",
        "cancelled": "1",
    }
    assert listed_ids(html) == [s.id for s in studies.of_site()]  # newest order first
    for state, expected in (
        ("waiting", [studies.ordered, studies.ready, studies.on_hold]),
        ("reading", [studies.reading]),
        ("final", [studies.final, studies.addended]),
        ("returned", [studies.returned]),
    ):
        assert listed_ids(page(client, site_user, state=state)) == [s.id for s in expected]


def test_each_row_shows_its_report_and_delivery_status(client, site_user, studies):
    html = page(client, site_user)

    def row(study: Study) -> str:
        match = re.search(rf'<tr[^>]*data-study-id="{study.id}".*?</tr>', html, re.S)
        assert match, study
        return match.group(0)

    assert 'data-report-status="final"' in row(studies.final)
    assert 'data-delivery-status="acknowledged"' in row(studies.final)
    assert "Acknowledged by your RIS" in row(studies.final)
    assert 'data-report-status="addended"' in row(studies.addended)
    assert 'data-delivery-status="dead"' in row(studies.addended)
    assert "cannot connect" in row(studies.addended)
    assert "portal-row--attention" in row(studies.addended)
    assert 'data-report-status="preliminary"' in row(studies.preliminary)
    assert 'data-report-status=""' in row(studies.ready)
    assert studies.final.accession_number in row(studies.final)
    fnr = studies.final.patient.identifiers.get(authority=PatientIdentifier.NATIONAL_AUTHORITY)
    assert fnr.value in row(studies.final)


def test_a_returned_referral_shows_its_coded_reason_and_comment(client, site_user, studies):
    html = page(client, site_user, state="returned")
    assert 'data-returned-reason="INSUFFICIENT_INFO"' in html
    assert "Insufficient clinical information" in html
    assert RETURN_COMMENT in html


def test_the_report_page_shows_the_signed_text_and_is_audited(client, site_user, studies):
    english(site_user)
    client.force_login(site_user)
    response = client.get(reverse("site-portal-report", args=[studies.final.id]))

    assert response.status_code == 200
    html = response.content.decode()
    assert SIGNED_FINDINGS in html
    assert 'data-delivery="DELIVERED"' in html
    actions = set(
        AuditEvent.objects.filter(actor=site_user, object_id=str(studies.final.id)).values_list(
            "action", flat=True
        )
    )
    assert actions == {AuditEvent.Action.STUDY_VIEW, AuditEvent.Action.REPORT_VIEW}


# Search ----------------------------------------------------------------------------------------


def test_search_finds_an_exact_accession_number_of_any_date(client, site_user, studies):
    old = factories.StudyFactory(
        site=studies.final.site, ordered_at=timezone.now() - dt.timedelta(days=400)
    )
    assert listed_ids(page(client, site_user, q=old.accession_number)) == [old.id]
    assert listed_ids(page(client, site_user, q=old.accession_number[:-1])) == []


def test_search_finds_a_patients_studies_by_national_number_with_or_without_spaces(
    client, site_user, studies
):
    fnr = studies.final.patient.identifiers.get(authority=PatientIdentifier.NATIONAL_AUTHORITY)
    spaced = f"{fnr.value[:6]} {fnr.value[6:]}"
    assert listed_ids(page(client, site_user, q=spaced)) == [studies.final.id]


def test_search_never_finds_another_sites_study(client, site_user, bravo_user, studies):
    other = studies.other_site
    fnr = other.patient.identifiers.get(authority=PatientIdentifier.NATIONAL_AUTHORITY)
    for q in (other.accession_number, fnr.value):
        assert listed_ids(page(client, site_user, q=q)) == []
        assert listed_ids(page(client, bravo_user, q=q)) == [other.id]


def test_search_by_another_hospitals_record_number_finds_nothing(client, site_user, studies):
    PatientIdentifier.objects.create(
        patient=studies.final.patient, kind="MR", value="B-778812", authority="bravo"
    )
    assert listed_ids(page(client, site_user, q="B-778812")) == []


# Scope -----------------------------------------------------------------------------------------


def test_another_sites_user_sees_only_their_own_study(client, bravo_user, studies):
    assert listed_ids(page(client, bravo_user)) == [studies.other_site.id]
    client.force_login(bravo_user)
    response = client.get(reverse("site-portal-report", args=[studies.final.id]))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(
        actor=bravo_user, action=AuditEvent.Action.STUDY_REFUSED
    ).exists()
    assert client.get(reverse("site-portal"), {"site": "alfa"}).status_code == 302


def test_the_period_is_the_sites_calendar(client, site_user, studies):
    far = factories.StudyFactory(
        site=studies.final.site, ordered_at=timezone.now() - dt.timedelta(days=30)
    )
    assert far.id not in listed_ids(page(client, site_user))  # the last week by default
    day = far.ordered_at.astimezone(far.site.zone).date()
    assert listed_ids(page(client, site_user, **{"from": day, "to": day})) == [far.id]


def test_a_period_that_ends_before_it_starts_is_refused_with_a_message(client, site_user, studies):
    html = page(client, site_user, **{"from": "2026-12-03", "to": "2026-12-01"})
    assert "The period ends before it starts." in html


# CSV -------------------------------------------------------------------------------------------


def test_the_csv_has_the_rows_of_the_table_and_never_another_sites(client, site_user, studies):
    html = page(client, site_user)
    response = client.get(reverse("site-portal-csv"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_accession = {study.accession_number: study for study in studies.of_site()}
    assert [by_accession[r["accession_number"]].id for r in rows] == listed_ids(html)
    assert studies.other_site.accession_number not in response.content.decode()
    final = next(r for r in rows if r["accession_number"] == studies.final.accession_number)
    assert (final["state"], final["report_status"], final["delivery_status"]) == (
        "final",
        "final",
        "acknowledged",
    )
    returned = next(r for r in rows if r["accession_number"] == studies.returned.accession_number)
    assert (returned["returned_reason"], returned["returned_comment"]) == (
        "INSUFFICIENT_INFO",
        RETURN_COMMENT,
    )
    addended = next(r for r in rows if r["accession_number"] == studies.addended.accession_number)
    assert addended["delivery_status"] == "dead"
    assert "cannot connect" in addended["delivery_error"]


def test_the_csv_is_audited_as_a_read_of_every_study_in_it(client, site_user, studies):
    client.force_login(site_user)
    AuditEvent.objects.all().delete()
    client.get(reverse("site-portal-csv"))
    listed = set(
        AuditEvent.objects.filter(actor=site_user, action=AuditEvent.Action.STUDY_LIST).values_list(
            "object_id", flat=True
        )
    )
    assert listed == {str(s.id) for s in studies.of_site()}


def test_a_csv_cell_that_would_be_a_formula_is_quoted(client, site_user, studies):
    Study.objects.filter(id=studies.final.id).update(procedure_text='=HYPERLINK("x")')
    client.force_login(site_user)
    rows = list(
        csv.DictReader(io.StringIO(client.get(reverse("site-portal-csv")).content.decode()))
    )
    final = next(r for r in rows if r["accession_number"] == studies.final.accession_number)
    assert final["procedure"].startswith("'=")


# Audit and cost --------------------------------------------------------------------------------


def test_the_page_audits_every_study_it_lists(client, site_user, studies):
    AuditEvent.objects.all().delete()
    page(client, site_user)
    listed = set(
        AuditEvent.objects.filter(actor=site_user, action=AuditEvent.Action.STUDY_LIST).values_list(
            "object_id", flat=True
        )
    )
    assert listed == {str(s.id) for s in studies.of_site()}
    reports = set(
        AuditEvent.objects.filter(
            actor=site_user, action=AuditEvent.Action.REPORT_VIEW
        ).values_list("object_id", flat=True)
    )
    assert reports == {str(studies.returned.id)}  # the returned referral's comment was shown


def _page_queries(client, user) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("site-portal")).status_code == 200
    return len(queries.captured_queries)


def test_the_page_costs_the_same_queries_for_ten_rows_as_for_thirty(
    client, site_user, owner, site_a, site_b, neuro
):
    client.force_login(site_user)

    def add(n: int) -> None:
        for _ in range(n):
            study = factories.held_study(owner, site=site_a)
            from tests.portal_support import sign

            sign(owner, study)

    add(10)
    client.get(reverse("site-portal"))  # warm: sessions, content types
    ten = _page_queries(client, site_user)
    add(20)
    thirty = _page_queries(client, site_user)
    assert ten == thirty
    assert ten <= 20


def test_the_selector_reads_rows_in_a_constant_number_of_queries(site_user, owner, site_a, neuro):
    from tests.portal_support import sign

    for _ in range(12):
        study = factories.held_study(owner, site=site_a)
        sign(owner, study)
    access = portal_access(user=site_user)
    with CaptureQueriesContext(connection) as queries:
        rows, _next = selectors.portal_rows(access=access, filters=PortalFilters(), limit=100)
    assert len(rows) == 12
    assert {r.report.status for r in rows} == {ReportStatus.FINAL}
    assert {r.state for r in rows} == {PortalState.FINAL}
    assert len(queries.captured_queries) == 5  # studies, identifiers, versions, outbox, returns


def test_the_next_page_continues_where_the_first_ended(site_user, site_a):
    now = timezone.now()
    made = [
        factories.StudyFactory(site=site_a, ordered_at=now - dt.timedelta(minutes=i))
        for i in range(5)
    ]
    access = portal_access(user=site_user)
    first, cursor = selectors.portal_rows(access=access, filters=PortalFilters(), limit=3)
    assert cursor is not None
    second, end = selectors.portal_rows(
        access=access,
        filters=PortalFilters(),
        cursor=selectors.Cursor.decode(cursor.encode()),
        limit=3,
    )
    assert [r.study.id for r in first + second] == [s.id for s in made]
    assert end is None
