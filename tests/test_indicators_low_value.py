"""The low-value referral indicator (docs/indicators.md): per site and rule, the orders flagged
at intake in the period and those of them returned after their flag, worked out by hand from the
events below; scoped as every site table; on the page, in its CSV and in the API; the page's
statements do not grow with the studies.

November 2026 (Europe/Oslo): from 31 Oct 23:00 UTC to 30 Nov 23:00 UTC. Rules: BACK (MR, "rygg")
and SYNCOPE (CT, "synkope"). Flagged by the real intake service; returns are REJECTED events.

A1 alfa BACK flagged 10 Nov, returned 10 Nov                 -> flagged, returned
A2 alfa BACK flagged 12 Nov, never returned                  -> flagged
A3 alfa BACK flagged 30 Nov 22:00 UTC (23:00 Oslo), returned 2 Dec -> flagged, returned (after
   the period: a return counts whenever it came)
A4 alfa BACK flagged 31 Oct 22:30 UTC (23:30 Oslo, October), returned 3 Nov -> not counted
A5 alfa BACK flagged 30 Nov 23:00 UTC (1 Dec in Oslo)        -> not counted
A6 alfa BACK returned 5 Nov 08:00, flagged 5 Nov 09:00       -> flagged, not returned after it
A7 alfa SYNCOPE flagged 15 Nov, returned 15 Nov              -> flagged, returned
A8 alfa returned 15 Nov, never flagged                       -> not counted
B1 bravo BACK flagged 20 Nov, returned 20 Nov                -> flagged, returned

Alfa / BACK: 4 flagged (A1 A2 A3 A6), 2 returned, 50 %. Alfa / SYNCOPE: 1, 1, 100 %.
Bravo / BACK: 1, 1, 100 %. Rows by site, then rule name ("Example: CT" before "Example: MR").
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from indicators.periods import GroupBy, Period
from indicators.scope import viewer_of
from indicators.selectors import indicators
from tests import factories
from tests import indicators_support as support
from worklists.actors import Actor
from worklists.low_value_selectors import low_value_counts
from worklists.models import LowValueRule, Site, Study, StudyEvent, StudyStatus
from worklists.services.low_value import study_flag_low_value_locked

pytestmark = pytest.mark.django_db

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
BACK_NAME = "Example: MR for non-specific low back pain"
SYNCOPE_NAME = "Example: CT head for simple syncope"
ALFA, BRAVO = "Alfa sjukehus", "Bravo røntgeninstitutt"


def utc(month: int, day: int, hour: int = 8, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


@dataclasses.dataclass
class Rules:
    back: LowValueRule
    syncope: LowValueRule


@pytest.fixture
def rules(db) -> Rules:
    return Rules(
        back=LowValueRule.objects.create(
            position=10, name=BACK_NAME, text="Eksempel: ikke MR ved uspesifikke korsryggsmerter.",
            modality="MR", question_words="rygg",
        ),
        syncope=LowValueRule.objects.create(
            position=20, name=SYNCOPE_NAME, text="Eksempel: ikke CT caput ved enkel synkope.",
            modality="CT", question_words="synkope",
        ),
    )  # fmt: skip


def flagged(site: Site, modality: str, at: dt.datetime) -> Study:
    question = "Korsryggsmerter." if modality == "MR" else "Synkope, ellers frisk."
    study = factories.StudyFactory.create(site=site, modality=modality, clinical_question=question)
    assert study_flag_low_value_locked(study, actor=Actor.system("intake"), at=at) is not None
    return study


def returned(study: Study, at: dt.datetime) -> None:
    StudyEvent.objects.create(
        study=study, from_status=StudyStatus.ASSIGNED, to_status=StudyStatus.REJECTED, at=at
    )


def build(site_a: Site, site_b: Site) -> None:
    returned(flagged(site_a, "MR", utc(11, 10)), utc(11, 10, 9))  # A1
    flagged(site_a, "MR", utc(11, 12))  # A2
    returned(flagged(site_a, "MR", utc(11, 30, 22)), utc(12, 2))  # A3
    returned(flagged(site_a, "MR", utc(10, 31, 22, 30)), utc(11, 3))  # A4
    flagged(site_a, "MR", utc(11, 30, 23))  # A5
    a6 = factories.StudyFactory.create(
        site=site_a, modality="MR", clinical_question="Korsryggsmerter."
    )
    returned(a6, utc(11, 5, 8))
    study_flag_low_value_locked(a6, actor=Actor.system("intake"), at=utc(11, 5, 9))
    returned(flagged(site_a, "CT", utc(11, 15)), utc(11, 15, 9))  # A7
    returned(factories.StudyFactory.create(site=site_a), utc(11, 15))  # A8
    returned(flagged(site_b, "MR", utc(11, 20)), utc(11, 20, 9))  # B1


@pytest.fixture
def scenario(rules, site_a, site_b) -> Rules:
    build(site_a, site_b)
    return rules


def low_value_rows(user) -> list[tuple[str, str, int, int, float | None]]:
    result = indicators(viewer=viewer_of(user), period=support.NOVEMBER, group_by=GroupBy.SITE)
    return [
        (r["group"], r["rule"], r["flagged"], r["returned"], r["returned_share"])
        for r in result.table("low_value").rows
    ]


def test_flags_of_the_period_and_returns_after_them_are_counted_per_site_and_rule(
    scenario, coordinator
):
    assert low_value_rows(coordinator) == [
        (ALFA, SYNCOPE_NAME, 1, 1, 1.0),
        (ALFA, BACK_NAME, 4, 2, 0.5),
        (BRAVO, BACK_NAME, 1, 1, 1.0),
    ]


def test_the_per_site_counts_add_up_the_same_statement(scenario, coordinator):
    counts = low_value_counts(user=coordinator, starts=support.NOVEMBER.start,
                              ends=support.NOVEMBER.end)  # fmt: skip

    assert [(c.site_code, c.flagged, c.returned) for c in counts] == [
        ("alfa", 5, 3), ("bravo", 1, 1),
    ]  # fmt: skip


def test_a_site_user_and_a_reader_see_only_their_sites_rows(scenario, site_user, owner, outsider):
    assert [row[:2] for row in low_value_rows(site_user)] == [
        (ALFA, SYNCOPE_NAME), (ALFA, BACK_NAME),
    ]  # fmt: skip
    assert [row[:2] for row in low_value_rows(owner.user)] == [
        (ALFA, SYNCOPE_NAME), (ALFA, BACK_NAME),
    ]  # fmt: skip
    assert low_value_rows(outsider.user) == [(BRAVO, BACK_NAME, 1, 1, 1.0)]


def test_a_reader_without_a_valid_credential_sees_no_rows(scenario):
    lapsed = factories.RadiologistFactory(user__username="lapsed")
    factories.credential(
        lapsed, Site.objects.get(code="alfa"), valid_from=dt.date(2020, 1, 1),
        valid_until=dt.date(2021, 1, 1),
    )  # fmt: skip

    assert low_value_rows(lapsed.user) == []


def test_a_flag_at_local_midnight_counts_in_the_next_period_and_an_empty_period_has_no_rows(
    scenario, coordinator
):
    def rows(period: Period) -> list[dict]:
        viewer = viewer_of(coordinator)
        return (
            indicators(viewer=viewer, period=period, group_by=GroupBy.SITE).table("low_value").rows
        )

    # A5, flagged 30 Nov 23:00 UTC, 1 December in Oslo; A3 returned in December is not flagged in it
    [december] = rows(support.DECEMBER)
    assert (december["group"], december["flagged"], december["returned"]) == (ALFA, 1, 0)
    assert rows(Period(first_day=dt.date(2027, 1, 1), last_day=dt.date(2027, 1, 31))) == []


def test_the_page_its_csv_and_the_api_show_the_same_rows(scenario, client, client_for, site_user):
    client.force_login(site_user)

    page = client.get(reverse("indicators"), NOVEMBER)
    download = client.get(reverse("indicators-csv", args=["low_value"]), NOVEMBER)
    body = client_for(site_user).get(reverse("api-indicators"), NOVEMBER).json()

    assert page.status_code == 200
    assert b'data-table="low_value"' in page.content
    assert SYNCOPE_NAME.encode() in page.content
    assert BRAVO.encode() not in page.content.split(b'data-table="low_value"')[1]
    lines = list(csv.reader(io.StringIO(download.content.decode())))
    assert lines == [
        ["Site", "Rule", "Flagged at intake", "Returned after the flag", "Share returned (%)"],
        [ALFA, SYNCOPE_NAME, "1", "1", "100.0"],
        [ALFA, BACK_NAME, "4", "2", "50.0"],
    ]
    [table] = [t for t in body["tables"] if t["key"] == "low_value"]
    assert [(r["group"], r["rule"], r["flagged"], r["returned"]) for r in table["rows"]] == [
        (ALFA, SYNCOPE_NAME, 1, 1), (ALFA, BACK_NAME, 4, 2),
    ]  # fmt: skip


def test_the_pages_statements_do_not_grow_with_the_flagged_studies(
    rules, site_a, site_b, client, coordinator
):
    client.force_login(coordinator)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("indicators"), NOVEMBER).status_code == 200
        return len(captured.captured_queries)

    build(site_a, site_b)
    once = count()
    build(site_a, site_b)
    build(site_a, site_b)

    assert count() == once
    assert low_value_rows(coordinator)[1] == (ALFA, BACK_NAME, 12, 6, 0.5)
