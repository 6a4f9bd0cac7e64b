"""Synthetic test data only: every national number is in the synthetic range (month + 80)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import cast

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from worklists import nin
from worklists.models import (
    ClassificationRule,
    Competence,
    Credential,
    Patient,
    PatientIdentifier,
    Radiologist,
    Shift,
    Site,
    Study,
    StudyStatus,
    Worklist,
)

_rng = random.Random(20261126)
PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Kari"
    last_name = factory.Sequence(lambda n: f"Nordmann{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)
    _save = factory.PostGeneration(lambda obj, create, extracted, **kw: create and obj.save())


class SiteFactory(factory.django.DjangoModelFactory[Site]):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"site{n}")
    name = factory.Sequence(lambda n: f"Testsjukehuset {n}")
    hl7_sending_facility = factory.LazyAttribute(lambda o: o.code.upper())
    viewer_url_template = "https://pacs.example.test/viewer?StudyInstanceUIDs={study_instance_uid}"


class WorklistFactory(factory.django.DjangoModelFactory[Worklist]):
    class Meta:
        model = Worklist
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"sub{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())


def synthetic_fnr(birth_date: dt.date = dt.date(1970, 5, 17)) -> str:
    return nin.synthetic_number(birth_date, rng=_rng)


def _add_fnr(patient: Patient, create: bool, value: str | None) -> None:
    if create:
        PatientIdentifier.objects.create(
            patient=patient,
            kind="FNR",
            authority="NO-FREG",
            value=value or synthetic_fnr(patient.birth_date or dt.date(1970, 5, 17)),
        )


class PatientFactory(factory.django.DjangoModelFactory[Patient]):
    class Meta:
        model = Patient
        skip_postgeneration_save = True

    family_name = factory.Sequence(lambda n: f"Ås{n}")
    given_name = "Bjørn"
    # A different birth date per patient keeps synthetic numbers from colliding.
    birth_date = factory.Sequence(
        lambda n: dt.date(1930, 1, 1) + dt.timedelta(days=(37 * n) % 30000)
    )
    sex = "M"

    fnr = factory.PostGeneration(
        lambda obj, create, extracted, **kw: _add_fnr(obj, create, extracted)
    )


class StudyFactory(factory.django.DjangoModelFactory[Study]):
    class Meta:
        model = Study

    site = factory.SubFactory(SiteFactory)
    accession_number = factory.Sequence(lambda n: f"ACC{n:06d}")
    study_instance_uid = factory.Sequence(lambda n: f"1.2.826.0.1.3680043.10.1.{n}")
    patient = factory.SubFactory(PatientFactory)
    modality = "CT"
    body_part = "HEAD"
    procedure_code = "NCRP-CT-HEAD"
    procedure_text = "CT caput uten kontrast"
    priority = "ROUTINE"
    ordered_at = factory.LazyFunction(timezone.now)
    status = StudyStatus.ORDERED
    status_changed_at = factory.LazyFunction(timezone.now)


class RuleFactory(factory.django.DjangoModelFactory[ClassificationRule]):
    class Meta:
        model = ClassificationRule

    position = factory.Sequence(lambda n: (n + 1) * 10)
    name = factory.Sequence(lambda n: f"rule {n}")
    worklist = factory.SubFactory(WorklistFactory)
    work_units = Decimal("1.00")


class RadiologistFactory(factory.django.DjangoModelFactory[Radiologist]):
    class Meta:
        model = Radiologist

    user = factory.SubFactory(UserFactory)
    hpr_number = factory.Sequence(lambda n: f"{9000000 + n}")
    modalities = ["CT", "MR", "CR", "DX", "US", "MG", "NM"]
    # at work now: an idle reader receives no pushes (routing.Policy.is_idle)
    last_active_at = factory.LazyFunction(timezone.now)


def credential(radiologist: Radiologist, site: Site, **kwargs: object) -> Credential:
    defaults: dict[str, object] = {"valid_from": timezone.localdate() - dt.timedelta(days=365)}
    defaults.update(kwargs)
    return Credential.objects.create(radiologist=radiologist, site=site, **defaults)


def competence(radiologist: Radiologist, worklist: Worklist, **kwargs: object) -> Competence:
    return Competence.objects.create(radiologist=radiologist, worklist=worklist, **kwargs)


# Reports (issue 5)


def held_study(radiologist: Radiologist, **kwargs: object) -> Study:
    """A study made READY and assigned to ``radiologist`` through the lifecycle services."""
    from worklists.actors import Actor
    from worklists.services.studies import study_assign, study_mark_ready

    study = cast(Study, StudyFactory(**kwargs))
    study_mark_ready(study_id=study.id, actor=Actor.system("test"))
    study_assign(study_id=study.id, radiologist_id=radiologist.id, actor=Actor.system("test"))
    study.refresh_from_db()
    return study


def report_sections(
    findings: str = "Ingen blødning.", conclusion: str = "Normal CT caput."
) -> list:
    return [
        {"key": "clinical_information", "title": "Clinical information", "text": "Hodepine."},
        {"key": "technique", "title": "Technique", "text": "CT caput uten kontrast."},
        {"key": "findings", "title": "Findings", "text": findings},
        {"key": "conclusion", "title": "Conclusion", "text": conclusion},
    ]


def shift(
    radiologist: Radiologist,
    *,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    worklists: tuple[Worklist, ...] = (),
    sites: tuple[Site, ...] = (),
    **kwargs: object,
) -> Shift:
    """A shift running now (an hour ago to seven hours ahead) unless told otherwise."""
    now = timezone.now()
    made = Shift.objects.create(
        radiologist=radiologist,
        starts_at=starts_at or now - dt.timedelta(hours=1),
        ends_at=ends_at or now + dt.timedelta(hours=7),
        **kwargs,
    )
    made.worklists.set(worklists)
    made.sites.set(sites)
    return made


def ready_study(site: Site, worklist: Worklist, **kwargs: object) -> Study:
    """A READY study in ``worklist`` with a deadline, as classification would leave it."""
    now = timezone.now()
    defaults: dict[str, object] = {
        "site": site,
        "worklist": worklist,
        "status": StudyStatus.READY,
        "images_available": True,
        "ready_at": now,
        "deadline": now + dt.timedelta(hours=24),
    }
    defaults.update(kwargs)
    ranks = {"STAT": 0, "URGENT": 1, "CANCER_PATHWAY": 2, "ROUTINE": 3}
    defaults.setdefault("routing_rank", ranks[str(defaults.get("priority", "ROUTINE"))])
    return StudyFactory.create(**defaults)
