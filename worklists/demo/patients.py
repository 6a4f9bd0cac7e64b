"""The demo's synthetic patients, invented as the orders need them."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils import timezone

from worklists import nin
from worklists.demo.data import FAMILY_NAMES, FEMALE_NAMES, MALE_NAMES
from worklists.models import PatientIdentifier
from worklists.services.orders import IdentifierInput, PatientInput


@dataclass(slots=True)
class PatientPlan:
    index: int
    family_name: str
    given_name: str
    birth_date: dt.date
    sex: str
    national_kind: str
    national_number: str
    home_site: str
    local_numbers: dict[str, str] = field(default_factory=dict)

    @property
    def is_child(self) -> bool:
        return age_on(self.birth_date, timezone.localdate()) <= 15

    def order_input(self, site_code: str) -> PatientInput:
        """The patient as the site's RIS sends it: the national number and the site's own."""
        local = self.local_numbers.setdefault(
            site_code, f"{site_code[:2].upper()}{700000 + self.index}"
        )
        return PatientInput(
            identifiers=(
                IdentifierInput(
                    kind=self.national_kind,
                    value=self.national_number,
                    authority=PatientIdentifier.NATIONAL_AUTHORITY,
                ),
                IdentifierInput(
                    kind=PatientIdentifier.Kind.LOCAL, value=local, authority=site_code
                ),
            ),
            family_name=self.family_name,
            given_name=self.given_name,
            birth_date=self.birth_date,
            sex=self.sex,
        )


def age_on(birth_date: dt.date, day: dt.date) -> int:
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


class PatientPool:
    """Everyone who has had a study so far, so that some of them can come back for another."""

    def __init__(
        self,
        *,
        rng: random.Random,
        nin_rng: random.Random,
        site_codes: Sequence[str],
        today: dt.date,
    ) -> None:
        # The caller's own generators, not copies: the demo is reproducible only as long as
        # every draw happens in the same order as it always has.
        self.rng = rng
        self.nin_rng = nin_rng
        self.site_codes = list(site_codes)
        self.today = today
        self.patients: list[PatientPlan] = []
        self.used_numbers: set[str] = set()

    def pick(self) -> tuple[PatientPlan, str]:
        """A patient for the next order, and the site that orders it."""
        rng = self.rng
        if self.patients and rng.random() < 0.3:
            # A returning patient, often at another hospital: these are the priors across sites
            # that a reader has to see.
            patient = rng.choice(self.patients)
            if rng.random() < 0.6:
                return patient, rng.choice([c for c in self.site_codes if c != patient.home_site])
            return patient, patient.home_site
        patient = self._new_patient()
        return patient, patient.home_site

    def new_patient(self) -> PatientPlan:
        """A patient nobody has seen yet (their home site orders for them)."""
        return self._new_patient()

    def _new_patient(self) -> PatientPlan:
        rng = self.rng
        sex = rng.choice(("F", "M"))
        roll = rng.random()
        if roll < 0.14:
            age_years = rng.randint(0, 15)
        elif roll < 0.30:
            age_years = rng.randint(16, 45)
        else:
            age_years = min(int(rng.triangular(40, 98, 72)), 98)
        birth_date = self.today - dt.timedelta(days=age_years * 365 + rng.randint(0, 364))
        d_number = rng.random() < 0.04
        while True:
            number = nin.synthetic_number(birth_date, rng=self.nin_rng, sex=sex, d_number=d_number)
            if number not in self.used_numbers:
                break
        self.used_numbers.add(number)
        given = rng.choice(FEMALE_NAMES if sex == "F" else MALE_NAMES)
        if rng.random() < 0.15:
            given = f"{given} {rng.choice(FEMALE_NAMES if sex == 'F' else MALE_NAMES)}"
        patient = PatientPlan(
            index=len(self.patients) + 1,
            family_name=rng.choice(FAMILY_NAMES),
            given_name=given,
            birth_date=birth_date,
            sex=sex,
            national_kind=(
                PatientIdentifier.Kind.D_NUMMER
                if d_number
                else PatientIdentifier.Kind.FODSELSNUMMER
            ),
            national_number=number,
            home_site=rng.choice(self.site_codes),
        )
        self.patients.append(patient)
        return patient
