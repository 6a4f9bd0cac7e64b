"""The cast of the double-reading tests: a screening mammography worklist with a policy, two
readers working for site A, one for site B, an arbitrator, and helpers to write and sign reads
through the services (each test module asserts its own part)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group

from reports.models import DoubleReadingPolicy
from reports.services.double_reading import ScreeningResult, independent_read_sign
from reports.services.drafts import DraftInput
from reports.services.signing import report_sign
from tests import factories
from worklists.access import COORDINATORS_GROUP
from worklists.actors import Actor
from worklists.models import Radiologist, Site, SiteMembership, Study, Worklist
from worklists.services.studies import study_assign

SYSTEM = Actor.system("test")
NORMAL = ScreeningResult(score_right=1, score_left=1, recall=False)
SUSPICIOUS = ScreeningResult(score_right=1, score_left=4, recall=True)


@dataclass
class Cast:
    site_a: Site
    site_b: Site
    mamma: Worklist
    policy: DoubleReadingPolicy
    reader1: Radiologist  # works for site A
    reader2: Radiologist  # works for site A
    reader_b: Radiologist  # works for site B
    arbitrator: Radiologist  # works for no site
    coordinator: object


def radiologist(
    username: str, *, works_for: Site | None, sites: list[Site], mamma: Worklist
) -> Radiologist:
    rad = factories.RadiologistFactory.create(
        user__username=username, user__first_name=username.capitalize(), user__last_name="Lege"
    )
    for site in sites:
        factories.credential(rad, site)
    factories.competence(rad, mamma)
    if works_for is not None:
        SiteMembership.objects.create(user=rad.user, site=works_for)
    factories.shift(rad, worklists=(mamma,))
    return rad


def make_cast(**policy: object) -> Cast:
    site_a = factories.SiteFactory.create(
        code="alfa", name="Alfa sjukehus", hl7_sending_facility="ALFA"
    )
    site_b = factories.SiteFactory.create(code="bravo", name="Bravo", hl7_sending_facility="BRAVO")
    mamma = factories.WorklistFactory.create(code="mamma", name="Mammografi")
    coordinator = factories.UserFactory.create(username="coord")
    coordinator.groups.add(Group.objects.get_or_create(name=COORDINATORS_GROUP)[0])
    sites = [site_a, site_b]
    return Cast(
        site_a=site_a,
        site_b=site_b,
        mamma=mamma,
        policy=DoubleReadingPolicy.objects.create(worklist=mamma, **policy),
        reader1=radiologist("reader1", works_for=site_a, sites=sites, mamma=mamma),
        reader2=radiologist("reader2", works_for=site_a, sites=sites, mamma=mamma),
        reader_b=radiologist("readerb", works_for=site_b, sites=sites, mamma=mamma),
        arbitrator=radiologist("arbiter", works_for=None, sites=sites, mamma=mamma),
        coordinator=coordinator,
    )


def screening_study(cast: Cast, **kwargs: object) -> Study:
    kwargs.setdefault("modality", "MG")
    kwargs.setdefault("procedure_code", "GGA0SC")
    kwargs.setdefault("procedure_text", "Mammografi screening")
    return factories.ready_study(cast.site_a, cast.mamma, **kwargs)


def give(study: Study, reader: Radiologist) -> Study:
    """Hand the READY study to ``reader`` (as routing or a claim would)."""
    study_assign(study_id=study.id, radiologist_id=reader.id, actor=SYSTEM)
    study.refresh_from_db()
    return study


def draft(text: str) -> DraftInput:
    return DraftInput(
        sections=factories.report_sections(findings=text, conclusion=text), base_revision=0
    )


def sign_read(study: Study, reader: Radiologist, result: ScreeningResult, text: str = "Funn."):
    give(study, reader)
    return independent_read_sign(
        study_id=study.id,
        user=reader.user,
        password=factories.PASSWORD,
        result=result,
        draft=draft(text),
    )


def sign_final(study: Study, reader: Radiologist, text: str = "Konklusjon."):
    give(study, reader)
    return report_sign(
        study_id=study.id, user=reader.user, password=factories.PASSWORD, draft=draft(text)
    )
