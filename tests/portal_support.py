"""A site's studies in every portal state, made through the services (the lifecycle, signing,
returning a referral, the outbox and a real MLLP RIS): shared by the portal's tests."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.utils import timezone

from demo_ris.receiver import ResultReceiver
from hl7_interface.delivery import outbox_drain
from hl7_interface.models import SiteHl7Config
from reports.services.drafts import DraftInput
from reports.services.rejections import referral_reject
from reports.services.signing import report_amend, report_issue_preliminary, report_sign
from tests import factories
from worklists.actors import Actor
from worklists.models import Radiologist, Site, SiteMembership, Study, Worklist
from worklists.services.studies import study_cancel, study_hold

SIGNED_FINDINGS = "Ingen blødning. Ingen fraktur. Midtlinjestrukturer i normal posisjon."
RETURN_COMMENT = "Spørsmålsstillingen mangler; ring henvisende lege."


def site_user_of(site: Site, username: str):
    user = factories.UserFactory.create(username=username)
    SiteMembership.objects.create(user=user, site=site)
    return user


def sign(reader: Radiologist, study: Study, findings: str = SIGNED_FINDINGS) -> None:
    report_sign(
        study_id=study.id,
        user=reader.user,
        password=factories.PASSWORD,
        draft=DraftInput(sections=factories.report_sections(findings=findings), base_revision=0),
    )


@dataclasses.dataclass
class SiteStudies:
    ordered: Study
    ready: Study
    on_hold: Study
    reading: Study
    preliminary: Study
    final: Study  # delivered, acknowledged by the RIS
    addended: Study  # final then addended; the addendum dead-lettered
    returned: Study
    cancelled: Study
    other_site: Study  # final at the other site

    def of_site(self) -> list[Study]:
        return [
            self.ordered,
            self.ready,
            self.on_hold,
            self.reading,
            self.preliminary,
            self.final,
            self.addended,
            self.returned,
            self.cancelled,
        ]


def site_studies(
    *, site: Site, other_site: Site, worklist: Worklist, reader: Radiologist
) -> SiteStudies:
    """One study per state at ``site`` (ordered an hour apart, newest first in this order) and
    a final one at ``other_site`` with the same patient identifiers' kind."""
    now = timezone.now()
    system = Actor.system("test")

    def at(hours: int) -> dict[str, object]:
        return {"site": site, "ordered_at": now - dt.timedelta(hours=hours)}

    ordered = factories.StudyFactory.create(**at(1))
    ready = factories.ready_study(site, worklist, ordered_at=now - dt.timedelta(hours=2))
    on_hold = factories.ready_study(site, worklist, ordered_at=now - dt.timedelta(hours=3))
    study_hold(study_id=on_hold.id, actor=system, reason="Venter på tidligere bilder")
    reading = factories.held_study(reader, **at(4))
    preliminary = factories.held_study(reader, **at(5))
    report_issue_preliminary(
        study_id=preliminary.id,
        user=reader.user,
        draft=DraftInput(sections=factories.report_sections(), base_revision=0),
    )
    final = factories.held_study(reader, **at(6))
    sign(reader, final)
    addended = factories.held_study(reader, **at(7))
    sign(reader, addended)
    returned = factories.held_study(reader, **at(8))
    referral_reject(
        study_id=returned.id, user=reader.user, reason="INSUFFICIENT_INFO", comment=RETURN_COMMENT
    )
    cancelled = factories.StudyFactory.create(**at(9))
    study_cancel(study_id=cancelled.id, actor=system, reason="Avbestilt av rekvirent")

    if not reader.credentials.filter(site=other_site).exists():
        factories.credential(reader, other_site)
    other = factories.held_study(reader, site=other_site, ordered_at=now - dt.timedelta(hours=1))
    sign(reader, other, findings="Bravo: ingen funn.")

    # Deliver everything owed so far to a RIS that acknowledges; then the addendum to a RIS
    # that is not there, once, which dead-letters it.
    SiteHl7Config.objects.update_or_create(site=site, defaults={"receiving_facility": "RIS"})
    with ResultReceiver() as ris:
        SiteHl7Config.objects.filter(site=site).update(ris_host=ris.host, ris_port=ris.port)
        outbox_drain()
    report_amend(
        study_id=addended.id,
        user=reader.user,
        password=factories.PASSWORD,
        kind="ADDENDUM",
        reason="Sammenligning med tidligere",
        addendum_text="Uendret fra forrige undersøkelse.",
    )
    closed = ResultReceiver()
    closed.close()
    SiteHl7Config.objects.filter(site=site).update(ris_host="127.0.0.1", ris_port=closed.port)
    max_attempts = settings.HL7_MAX_ATTEMPTS
    settings.HL7_MAX_ATTEMPTS = 1
    try:
        outbox_drain()
    finally:
        settings.HL7_MAX_ATTEMPTS = max_attempts
    for study in (ordered, ready, on_hold, reading, preliminary, final, addended, returned):
        study.refresh_from_db()
    cancelled.refresh_from_db()
    return SiteStudies(
        ordered=ordered,
        ready=ready,
        on_hold=on_hold,
        reading=reading,
        preliminary=preliminary,
        final=final,
        addended=addended,
        returned=returned,
        cancelled=cancelled,
        other_site=other,
    )
