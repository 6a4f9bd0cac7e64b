"""Returned referrals, low-value referrals, escalations, critical findings and amendments per
group, each counted in the database from its own history rows (docs/indicators.md)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, OuterRef, Q, Subquery

from indicators.aggregates import Percentile, SecondsBetween
from indicators.groups import group_field
from indicators.periods import GroupBy, Period
from indicators.scope import Viewer
from indicators.tables import keyed
from reports.models import CriticalCategory, CriticalFinding, ReferralRejection, ReportVersion
from reports.models import VersionKind as Kind
from worklists.low_value_selectors import LowValueRuleCount, low_value_counts_by_rule
from worklists.models import CoordinatorAlert, RoutingDecision, Study

ESCALATION_TRIGGER = "escalation.tier"
ESCALATION_ALERT_KIND = "routing.escalation"


def returned_referrals(viewer: Viewer, period: Period) -> list[dict[str, Any]]:
    """Returned referrals per site and coded reason."""
    return list(
        ReferralRejection.objects.filter(
            viewer.sites_q("study__"), rejected_at__gte=period.start, rejected_at__lt=period.end
        )
        .values("site_id", "reason")
        .annotate(returned=Count("id"))
        .order_by("site_id", "reason")
    )


def low_value_referrals(viewer: Viewer, period: Period) -> list[LowValueRuleCount]:
    """Referrals flagged as of low value in the period, per site and rule, and those returned
    after their flag: the core's one definition (worklists.low_value_selectors)."""
    return low_value_counts_by_rule(site_ids=viewer.site_ids, starts=period.start, ends=period.end)


def _of_study(column: str) -> Subquery:
    """The row's study's ``column``, looked up by the study's primary key for each row. For the
    month's few thousand escalation decisions that is cheaper than the join PostgreSQL plans
    (a hash join probed by a scan of the whole study table: 0.17 against 0.06 s at 1,000,000
    studies, docs/indicators.md "Speed")."""
    return Subquery(Study.objects.filter(pk=OuterRef("study_id")).values(column)[:1])


def escalations(viewer: Viewer, period: Period, group_by: GroupBy) -> dict[Any, dict[str, int]]:
    """Per group: studies escalated to tier 1 and 2 (routing decisions the escalation asked
    for) and to tier 3 (the escalation alert to the coordinators). Nobody reads a study while it
    escalates: grouped by reader, these are shown per site instead (the caller's choice)."""
    if group_by is GroupBy.READER:
        group_by = GroupBy.SITE
    field = group_field(group_by, study_path="study__", reader_field="")
    escalated = RoutingDecision.objects.filter(
        decided_at__gte=period.start,
        decided_at__lt=period.end,
        trigger__startswith=ESCALATION_TRIGGER,
    )
    if viewer.site_ids is not None:
        escalated = escalated.annotate(study_site=_of_study("site_id")).filter(
            study_site__in=viewer.site_ids
        )
    decisions = (
        escalated.annotate(key=_of_study(group_field(group_by, study_path="", reader_field="")))
        .values("key")
        .order_by()
        .annotate(
            tier1=Count("study_id", distinct=True, filter=Q(tier=1)),
            tier2=Count("study_id", distinct=True, filter=Q(tier=2)),
        )
    )
    alerts = (
        CoordinatorAlert.objects.filter(
            viewer.sites_q("study__"),
            kind=ESCALATION_ALERT_KIND,
            raised_at__gte=period.start,
            raised_at__lt=period.end,
        )
        .values(key=F(field))
        .order_by()
        .annotate(tier3=Count("study_id", distinct=True))
    )
    rows: dict[Any, dict[str, int]] = {}
    for row in decisions:
        key = row.pop("key")
        rows[key] = {**row, "tier3": 0}
    for row in alerts:
        rows.setdefault(row["key"], {"tier1": 0, "tier2": 0})["tier3"] = row["tier3"]
    return rows


def critical_findings(
    viewer: Viewer, period: Period, group_by: GroupBy
) -> dict[Any, dict[str, Any]]:
    """Per group: critical findings flagged in the period by category, how many were
    communicated, and the time from flagging to communication (median, 90th percentile)."""
    field = group_field(group_by, study_path="study__", reader_field="version__signed_by_id")
    findings = CriticalFinding.objects.filter(
        viewer.sites_q("study__"), flagged_at__gte=period.start, flagged_at__lt=period.end
    )
    if group_by is GroupBy.READER:
        findings = findings.filter(viewer.readers_q("version__signed_by_id"))
    seconds = SecondsBetween(F("flagged_at"), F("communicated_at"))
    rows = (
        findings.values(key=F(field))
        .order_by()
        .annotate(
            flagged=Count("id"),
            red=Count("id", filter=Q(category=CriticalCategory.RED)),
            orange=Count("id", filter=Q(category=CriticalCategory.ORANGE)),
            yellow=Count("id", filter=Q(category=CriticalCategory.YELLOW)),
            communicated=Count("communicated_at"),
            to_communication_p50=Percentile(seconds, 0.5),
            to_communication_p90=Percentile(seconds, 0.9),
        )
    )
    return keyed(rows)


def amendments(
    viewer: Viewer, period: Period, group_by: GroupBy, *, finals: dict[Any, int]
) -> dict[Any, dict[str, int]]:
    """Per group: final reports, addenda and corrections signed in the period.

    ``finals`` are the studies signed final in the period per group, as the turnaround counts
    them (its ``signed``, over the same milestone rows: asked once for the page, not twice,
    docs/indicators.md "Speed"); the addenda and corrections, a few per hundred finals, are read
    from their own index and joined to their studies."""
    field = group_field(group_by, study_path="study__", reader_field="signed_by_id")
    versions = ReportVersion.objects.filter(
        viewer.sites_q("study__"),
        signed_at__gte=period.start,
        signed_at__lt=period.end,
        kind__in=[Kind.ADDENDUM, Kind.CORRECTION],
    )
    if group_by is GroupBy.READER:
        versions = versions.filter(viewer.readers_q("signed_by_id"))
    amended = keyed(
        versions.values(key=F(field))
        .order_by()
        .annotate(
            addenda=Count("id", filter=Q(kind=Kind.ADDENDUM)),
            corrections=Count("id", filter=Q(kind=Kind.CORRECTION)),
        )
    )
    found = {
        key: {"finals": count, "addenda": 0, "corrections": 0} for key, count in finals.items()
    }
    for key, row in amended.items():
        found.setdefault(key, {"finals": 0, "addenda": 0, "corrections": 0}).update(row)
    return found
