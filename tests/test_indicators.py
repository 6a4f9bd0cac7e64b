"""Every indicator against figures worked out by hand from the fixed events of
tests/indicators_support.py (the minutes are in its docstring), for a coordinator (every site),
and an empty period; the statements the figures take do not grow with the studies."""

from __future__ import annotations

import statistics
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from indicators import workload
from indicators.aggregates import percentile_of_sorted
from indicators.periods import GroupBy
from indicators.scope import viewer_of
from indicators.selectors import indicators
from tests import indicators_support as support

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(site_a, site_b, neuro, owner, other_radiologist, outsider):
    return support.build(
        site_a=site_a, site_b=site_b, neuro=neuro, owner=owner, other=other_radiologist,
        outsider=outsider,
    )  # fmt: skip


def figures(user, group_by=GroupBy.SITE, period=support.NOVEMBER):
    return indicators(viewer=viewer_of(user), period=period, group_by=group_by)


def rows(result, key):
    return {row["group"]: row for row in result.table(key).rows}


def test_percentile_interpolates_between_the_two_values_around_its_position():
    assert percentile_of_sorted([60, 70, 120], 0.5) == 70
    assert percentile_of_sorted([60, 70, 120], 0.9) == pytest.approx(110)
    assert percentile_of_sorted([80], 0.9) == 80
    assert percentile_of_sorted([], 0.5) is None


def test_turnaround_per_site_is_the_median_and_90th_percentile_of_the_signed_studies(
    scenario, coordinator
):
    alfa = rows(figures(coordinator), "turnaround")["Alfa sjukehus"]

    # S1, S2, S3 signed in November; S4 cancelled midway, S6 returned, S7 signed in October.
    assert alfa["signed"] == 3
    assert alfa["order_to_final_p50"] == pytest.approx(100)  # 70, 100, 140
    assert alfa["order_to_final_p90"] == pytest.approx(132)
    assert alfa["ready_to_final_p50"] == pytest.approx(70)  # 60, 70, 120
    assert alfa["ready_to_final_p90"] == pytest.approx(110)
    # S2 was reassigned before it was opened: the first opening counts, at 50.
    assert alfa["ready_to_opened_p50"] == pytest.approx(20)  # 10, 20, 30
    assert alfa["ready_to_opened_p90"] == pytest.approx(28)
    assert alfa["with_preliminary"] == 1
    assert alfa["preliminary_to_final_p50"] == pytest.approx(80)
    assert alfa["within_deadline"] == pytest.approx(2 / 3)  # S2 was late
    assert alfa["cancer_within_deadline"] == 1.0
    bravo = rows(figures(coordinator), "turnaround")["Bravo røntgeninstitutt"]
    assert (bravo["signed"], bravo["ready_to_final_p50"], bravo["within_deadline"]) == (1, 300, 0)
    assert bravo["preliminary_to_final_p50"] is None
    assert bravo["cancer_within_deadline"] is None


def test_volumes_count_the_events_of_the_period_per_site(scenario, coordinator):
    volumes = rows(figures(coordinator), "volumes")

    assert volumes["Alfa sjukehus"] == {
        "group": "Alfa sjukehus", "received": 6, "reported": 3, "cancelled": 1, "returned": 1,
    }  # fmt: skip
    assert volumes["Bravo røntgeninstitutt"]["received"] == 1
    assert volumes["Bravo røntgeninstitutt"]["reported"] == 1


def test_grouped_by_reader_the_signer_of_the_final_report_counts(scenario, coordinator):
    result = figures(coordinator, GroupBy.READER)
    turnaround = rows(result, "turnaround")
    owner, other = scenario.owner.display_name, scenario.other.display_name

    assert turnaround[owner]["signed"] == 2  # S1 and S2 (reassigned to the owner)
    assert turnaround[owner]["ready_to_final_p50"] == pytest.approx(90)  # 60, 120
    assert turnaround[other]["signed"] == 1
    assert rows(result, "volumes")[owner]["returned"] == 1
    assert rows(result, "amendments")[owner] == {
        "group": owner, "finals": 2, "addenda": 1, "corrections": 1,
        "addenda_per_100": 50.0, "corrections_per_100": 50.0,
    }  # fmt: skip
    # Nobody reads a study while it escalates: per site instead.
    assert result.table("escalations").columns[0].label == "Site"


def test_grouped_by_modality_and_priority(scenario, coordinator):
    by_modality = rows(figures(coordinator, GroupBy.MODALITY), "turnaround")
    by_priority = rows(figures(coordinator, GroupBy.PRIORITY), "turnaround")

    assert by_modality["MR"]["signed"] == 1
    assert by_modality["CT"]["signed"] == 3
    assert by_modality["CT"]["ready_to_final_p50"] == pytest.approx(70)  # 60, 70, 300
    assert list(by_priority) == ["STAT", "Cancer pathway", "Routine"]


def test_within_deadline_per_priority_shows_the_cancer_pathway_on_its_own(scenario, coordinator):
    priorities = rows(figures(coordinator), "priorities")

    assert priorities["STAT"]["within_deadline"] == 0
    assert priorities["Cancer pathway"]["within_deadline"] == 1.0
    assert priorities["Routine"]["within"] == 1  # S1 in time, S5 late
    assert priorities["Routine"]["within_deadline"] == 0.5
    assert priorities["Routine"]["ready_to_final_p50"] == pytest.approx(180)  # 60, 300
    assert priorities["Routine"]["ready_to_final_p90"] == pytest.approx(276)


def test_each_site_is_shown_beside_the_median_of_all_sites_and_outliers_are_marked(
    scenario, coordinator
):
    sites = rows(figures(coordinator), "sites")

    alfa, bravo = sites["Alfa sjukehus"], sites["Bravo røntgeninstitutt"]
    assert alfa["regional_p50"] == bravo["regional_p50"] == pytest.approx(185)  # 70 and 300
    assert alfa["regional_within_deadline"] == pytest.approx(1 / 3)  # 2/3 and 0
    assert alfa["outlier"] == ""
    assert bravo["outlier"] == "slow, often late"


def test_returned_referrals_by_site_and_reason(scenario, coordinator):
    assert figures(coordinator).table("returned").rows == [
        {"group": "Alfa sjukehus", "reason": "Not indicated by guideline", "returned": 1}
    ]


def test_escalations_count_studies_per_tier(scenario, coordinator):
    escalations = rows(figures(coordinator), "escalations")

    assert escalations["Alfa sjukehus"] == {
        "group": "Alfa sjukehus",
        "tier1": 1,
        "tier2": 0,
        "tier3": 0,
    }
    assert escalations["Bravo røntgeninstitutt"] == {
        "group": "Bravo røntgeninstitutt",
        "tier1": 1,
        "tier2": 1,
        "tier3": 1,
    }


def test_critical_findings_and_their_time_to_communication(scenario, coordinator):
    alfa = rows(figures(coordinator), "critical")["Alfa sjukehus"]

    assert (alfa["flagged"], alfa["red"], alfa["orange"], alfa["yellow"]) == (2, 1, 1, 0)
    assert alfa["communicated"] == 1
    assert alfa["to_communication_p50"] == pytest.approx(15)
    assert alfa["to_communication_p90"] == pytest.approx(15)


def test_addenda_and_corrections_per_100_reports_count_corrections_after_an_earlier_final(
    scenario, coordinator
):
    alfa = rows(figures(coordinator), "amendments")["Alfa sjukehus"]

    # Finals in November: S1, S2, S3 (S7's was in October; its correction is in November).
    assert (alfa["finals"], alfa["addenda"], alfa["corrections"]) == (3, 1, 1)
    assert alfa["addenda_per_100"] == pytest.approx(100 / 3)
    assert alfa["corrections_per_100"] == pytest.approx(100 / 3)


def test_work_units_per_shift_hour_and_shares_of_heavy_and_stat_studies(scenario, coordinator):
    readers = rows(figures(coordinator), "readers")
    owner = readers[scenario.owner.display_name]
    other = readers[scenario.other.display_name]

    # The owner's October shift lies 2 of its 4 hours in November: 8 + 2 hours.
    assert owner["shift_hours"] == 10.0
    assert owner["work_units"] == 3.0  # S1 1.0 + S2 2.0
    assert owner["per_hour"] == pytest.approx(0.3)
    assert owner["hours_share"] == pytest.approx(10 / 22)
    assert (owner["heavy"], owner["heavy_share"], owner["stat"], owner["stat_share"]) == (
        1, 1.0, 1, 1.0,
    )  # fmt: skip
    assert other["per_hour"] == pytest.approx(1 / 8)
    assert other["heavy_share"] == 0


def test_the_spread_of_work_per_shift_hour_between_the_readers_of_a_worklist(scenario, coordinator):
    neuro = rows(figures(coordinator), "fairness")["Nevroradiologi"]
    rates = [0.3, 1 / 8, 0.25]

    assert neuro["readers"] == 3
    assert neuro["lowest"] == pytest.approx(1 / 8)
    assert neuro["median"] == pytest.approx(0.25)
    assert neuro["highest"] == pytest.approx(0.3)
    assert neuro["variation"] == pytest.approx(statistics.pstdev(rates) / statistics.fmean(rates))


def test_an_empty_period_has_empty_tables(scenario, coordinator):
    result = figures(coordinator, period=support.DECEMBER)

    assert {table.key: table.rows for table in result.tables} == {
        table.key: [] for table in result.tables
    }


def test_the_statements_do_not_grow_with_the_number_of_studies(
    site_a, site_b, neuro, owner, other_radiologist, outsider, coordinator
):
    def count():
        with CaptureQueriesContext(connection) as captured:
            figures(coordinator, GroupBy.READER)
            figures(coordinator, GroupBy.SITE)
        return len(captured.captured_queries)

    support.build(
        site_a=site_a, site_b=site_b, neuro=neuro, owner=owner, other=other_radiologist,
        outsider=outsider,
    )  # fmt: skip
    once = count()
    support.build(
        site_a=site_a, site_b=site_b, neuro=neuro, owner=owner, other=other_radiologist,
        outsider=outsider,
    )  # fmt: skip

    assert count() == once


def test_the_page_writes_figures_in_its_language_and_the_csv_keeps_a_decimal_point():
    from django.utils import translation

    from indicators.tables import csv_value, shown_value

    with translation.override("nb"):
        shown = [shown_value("minutes", 104.46), shown_value("share", 0.9666)]
        shown.append(shown_value("ratio", 1.5))
        written = csv_value("minutes", 104.46)
    with translation.override("en"):
        shown_en = shown_value("minutes", 104.46)

    assert shown == ["104,5", "97 %", "1,50"]
    assert (written, shown_en) == ("104.5", "104.5")


def test_an_event_that_keeps_the_status_is_no_second_signature_cancellation_or_return(
    scenario, coordinator
):
    from worklists.models import StudyEvent

    before = figures(coordinator)
    # What a patient merge writes for each of the patient's studies, later in November
    for name in ("S1", "S4", "S6"):
        study = scenario.studies[name]
        StudyEvent.objects.create(
            study=study,
            from_status=study.status,
            to_status=study.status,
            actor=scenario.owner.user,
            at=support.at(300),
            reason="patient merged",
        )

    after = figures(coordinator)

    for key in ("volumes", "readers", "turnaround"):
        assert rows(after, key) == rows(before, key), key


def test_per_reader_work_adds_up_the_worklists_and_the_spread_leaves_out_studies_on_none():
    # The per-reader table and the spread per worklist share one statement's rows, per
    # (worklist, reader); a study on no worklist counts for its reader, on no worklist.
    signed = {
        (1, 7): {"signed": 2, "work_units": Decimal("1.50"), "heavy": 0, "stat": 1},
        (2, 7): {"signed": 1, "work_units": Decimal("2.25"), "heavy": 1, "stat": 0},
        (None, 7): {"signed": 1, "work_units": Decimal("0.50"), "heavy": 0, "stat": 1},
        (1, 8): {"signed": 3, "work_units": Decimal("3.00"), "heavy": 0, "stat": 0},
    }

    assert workload.reader_work(signed) == {
        7: {"signed": 4, "work_units": Decimal("4.25"), "heavy": 1, "stat": 2},
        8: {"signed": 3, "work_units": Decimal("3.00"), "heavy": 0, "stat": 0},
    }
    assert workload.worklist_reader_work(signed) == {
        (1, 7): Decimal("1.50"),
        (2, 7): Decimal("2.25"),
        (1, 8): Decimal("3.00"),
    }
