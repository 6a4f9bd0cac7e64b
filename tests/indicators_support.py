"""A fixed set of events for the indicators' tests, with every figure worked out by hand in
docs-style comments beside the events that make it (tests/test_indicators*.py).

November 2026 (Europe/Oslo) is the period; T is 10 November 08:00 UTC. Minutes after T:

S1 alfa CT routine 1.0 wu, deadline T+180: ordered 0, ready 10, owner 11, opened 30, final 70
   (owner; red critical finding flagged 70, communicated 85; an addendum in November)
S2 alfa MR STAT 2.0 wu, deadline T+60: ordered 0, ready 20, other 21, reassigned to owner 40,
   opened 50, preliminary 60, final 140 (owner, late; orange critical finding, not communicated)
S3 alfa CT cancer pathway 1.0 wu, deadline T+1 day: ordered 0, ready 30, other 31, opened 40,
   final 100 (other)
S4 alfa CT routine: ordered 0, ready 5, owner 6, opened 15, cancelled 20 (midway); escalated
   to tier 1 at 18
S5 bravo CT routine 1.0 wu, deadline T+120: ordered 0, ready 0, outsider 1, opened 60, final
   300 (outsider, late); escalated to tier 1 at 30, tier 2 at 45, coordinators alerted at 50
S6 alfa CT routine: ordered 0, ready 5, owner 6, opened 8, returned 10 by owner (not indicated)
S7 alfa CT routine: ordered, ready, final in October (before the period); a correction by the
   owner in November (a correction after final)
S8 alfa CT routine: ordered 0 (no images yet)

Shifts (neuro): owner T..T+8h and 31 Oct 21:00-1 Nov 01:00 UTC (2 h inside the period: the
period starts 31 Oct 23:00 UTC), other T..T+8h, outsider T..T+4h.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from decimal import Decimal
from typing import cast

from indicators.periods import Period
from reports.models import CriticalFinding, ReferralRejection, ReportVersion
from tests import factories
from worklists.models import (
    CoordinatorAlert,
    Radiologist,
    RoutingDecision,
    Site,
    Study,
    StudyEvent,
    StudyStatus,
    Worklist,
)

T = dt.datetime(2026, 11, 10, 8, 0, tzinfo=dt.UTC)
NOVEMBER = Period(first_day=dt.date(2026, 11, 1), last_day=dt.date(2026, 11, 30))
DECEMBER = Period(first_day=dt.date(2026, 12, 1), last_day=dt.date(2026, 12, 31))

S = StudyStatus


def at(minutes: float) -> dt.datetime:
    return T + dt.timedelta(minutes=minutes)


@dataclasses.dataclass
class Scenario:
    site_a: Site
    site_b: Site
    neuro: Worklist
    owner: Radiologist
    other: Radiologist
    outsider: Radiologist
    studies: dict[str, Study]


def _study(site: Site, worklist: Worklist, **kwargs: object) -> Study:
    return cast(Study, factories.StudyFactory(site=site, worklist=worklist, ordered_at=T, **kwargs))


def _events(study: Study, steps: list[tuple[str, float, Radiologist | None]]) -> None:
    """The study's lifecycle: (status, minutes after T, the reader who acted or None)."""
    previous = ""
    for status, minutes, reader in steps:
        StudyEvent.objects.create(
            study=study,
            from_status=previous,
            to_status=status,
            actor=reader.user if reader else None,
            actor_label=reader.display_name if reader else "system",
            at=at(minutes),
        )
        previous = status
    study.status = previous
    study.save(update_fields=["status"])


def _version(study: Study, number: int, kind: str, reader: Radiologist, minutes: float):
    return ReportVersion.objects.create(
        study=study,
        number=number,
        kind=kind,
        sections=factories.report_sections(),
        reason="" if kind in ("FINAL", "PRELIMINARY") else "changed",
        signed_by=reader,
        signer_name=reader.display_name,
        signer_hpr=reader.hpr_number,
        signed_at=at(minutes),
        password_confirmed=kind != "PRELIMINARY",
        content_hash=hashlib.sha256(f"{study.id}{number}".encode()).hexdigest(),
    )


def build(*, site_a: Site, site_b: Site, neuro: Worklist, owner, other, outsider) -> Scenario:
    one, two = Decimal("1.00"), Decimal("2.00")
    s1 = _study(site_a, neuro, deadline=at(180), work_units=one)
    _events(s1, [(S.ORDERED, 0, None), (S.READY, 10, None), (S.ASSIGNED, 11, None),
                 (S.IN_PROGRESS, 30, owner), (S.FINAL, 70, owner)])  # fmt: skip
    s2 = _study(site_a, neuro, deadline=at(60), work_units=two, priority="STAT", modality="MR")
    _events(s2, [(S.ORDERED, 0, None), (S.READY, 20, None), (S.ASSIGNED, 21, None),
                 (S.ASSIGNED, 40, None), (S.IN_PROGRESS, 50, owner),
                 (S.PRELIMINARY, 60, owner), (S.FINAL, 140, owner)])  # fmt: skip
    s3 = _study(site_a, neuro, deadline=at(1440), work_units=one, priority="CANCER_PATHWAY")
    _events(s3, [(S.ORDERED, 0, None), (S.READY, 30, None), (S.ASSIGNED, 31, None),
                 (S.IN_PROGRESS, 40, other), (S.FINAL, 100, other)])  # fmt: skip
    s4 = _study(site_a, neuro, deadline=at(120))
    _events(s4, [(S.ORDERED, 0, None), (S.READY, 5, None), (S.ASSIGNED, 6, None),
                 (S.IN_PROGRESS, 15, owner), (S.CANCELLED, 20, None)])  # fmt: skip
    s5 = _study(site_b, neuro, deadline=at(120), work_units=one)
    _events(s5, [(S.ORDERED, 0, None), (S.READY, 0, None), (S.ASSIGNED, 1, None),
                 (S.IN_PROGRESS, 60, outsider), (S.FINAL, 300, outsider)])  # fmt: skip
    s6 = _study(site_a, neuro, deadline=at(120))
    _events(s6, [(S.ORDERED, 0, None), (S.READY, 5, None), (S.ASSIGNED, 6, None),
                 (S.IN_PROGRESS, 8, owner), (S.REJECTED, 10, owner)])  # fmt: skip
    ReferralRejection.objects.create(
        study=s6, site=site_a, reason="NOT_INDICATED", rejected_by=owner, rejected_at=at(10)
    )
    october = -14 * 24 * 60
    s7 = _study(site_a, neuro, deadline=at(october + 120))
    _events(s7, [(S.ORDERED, october, None), (S.READY, october + 5, None),
                 (S.ASSIGNED, october + 6, None), (S.IN_PROGRESS, october + 8, owner),
                 (S.FINAL, october + 30, owner)])  # fmt: skip
    s8 = _study(site_a, neuro)
    _events(s8, [(S.ORDERED, 0, None)])

    final1 = _version(s1, 1, "FINAL", owner, 70)
    _version(s1, 2, "ADDENDUM", owner, 400)
    _version(s2, 1, "PRELIMINARY", owner, 60)
    final2 = _version(s2, 2, "FINAL", owner, 140)
    _version(s3, 1, "FINAL", other, 100)
    _version(s5, 1, "FINAL", outsider, 300)
    _version(s7, 1, "FINAL", owner, october + 30)
    _version(s7, 2, "CORRECTION", owner, 500)
    CriticalFinding.objects.create(
        version=final1, study=s1, category="RED", flagged_at=at(70), communicated_at=at(85)
    )
    CriticalFinding.objects.create(version=final2, study=s2, category="ORANGE", flagged_at=at(140))

    for study, tier, minutes in ((s4, 1, 18), (s5, 1, 30), (s5, 2, 45)):
        RoutingDecision.objects.create(
            study=study, decided_at=at(minutes), mode="PUSH", trigger=f"escalation.tier{tier}",
            tier=tier,
        )  # fmt: skip
    RoutingDecision.objects.create(
        study=s1, decided_at=at(10), mode="PUSH", trigger="study.ready", tier=0
    )
    CoordinatorAlert.objects.create(
        kind="routing.escalation", study=s5, site=site_b, message="escalated", raised_at=at(50),
        last_raised_at=at(50),
    )  # fmt: skip

    factories.shift(owner, starts_at=T, ends_at=at(8 * 60), worklists=(neuro,))
    factories.shift(
        owner,
        starts_at=dt.datetime(2026, 10, 31, 21, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC),
        worklists=(neuro,),
    )
    factories.shift(other, starts_at=T, ends_at=at(8 * 60), worklists=(neuro,))
    factories.shift(outsider, starts_at=T, ends_at=at(4 * 60), worklists=(neuro,))
    return Scenario(
        site_a=site_a,
        site_b=site_b,
        neuro=neuro,
        owner=owner,
        other=other,
        outsider=outsider,
        studies={f"S{i}": s for i, s in enumerate((s1, s2, s3, s4, s5, s6, s7, s8), start=1)},
    )
