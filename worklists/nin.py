"""Norwegian national identity numbers: fødselsnummer, D-nummer, H-nummer and FH-nummer.

Pure functions, no Django. An 11-digit number is DDMMYY III K1 K2:
- D-nummer adds 4 to the first day digit; H-nummer adds 4 to the first month digit;
  synthetic test numbers (Skatteetaten's test register) add 8 to the first month digit, so a
  synthetic number can never collide with a real person; FH-nummer starts with 8 or 9 and
  carries no birth date.
- K2 is a mod-11 check over all ten preceding digits and is unchanged by the 2032 reform.
- K1: numbers issued before 2032 make the weighted sum divisible by 11. From 1 January 2032 the
  register also issues numbers whose K1 sum leaves a remainder of 1, 2 or 3, and such numbers no
  longer tell the holder's sex or (via the individual number) the century of birth. Both series
  are valid side by side, so a validator has to accept both.
"""

from __future__ import annotations

import datetime as dt
import enum
import random
from dataclasses import dataclass

K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)
K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
REMAINDERS_ACCEPTED_FROM_2032 = frozenset({0, 1, 2, 3})
SYNTHETIC_MONTH_OFFSET = 80
H_NUMBER_MONTH_OFFSET = 40
D_NUMBER_DAY_OFFSET = 40


class NinKind(enum.StrEnum):
    FODSELSNUMMER = "FNR"
    D_NUMMER = "DNR"
    H_NUMMER = "HNR"
    FH_NUMMER = "FHN"


class ControlSeries(enum.StrEnum):
    CLASSIC = "classic"  # issued before 2032: K1 remainder 0
    FROM_2032 = "2032"  # K1 remainder 1, 2 or 3


class InvalidNationalIdentityNumber(ValueError):
    """The number is not a valid Norwegian identity number; the message says why."""


@dataclass(frozen=True, slots=True)
class NationalIdentityNumber:
    value: str
    kind: NinKind
    synthetic: bool
    control_series: ControlSeries
    birth_date: dt.date | None
    sex: str | None  # "M"/"F" where the number still encodes it (classic series only)


def _weighted_remainder(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=False)) % 11


def _century_candidates(individual: int, yy: int, series: ControlSeries) -> list[int]:
    if series is ControlSeries.FROM_2032:
        # The reformed numbers no longer encode the century: both are possible.
        return [2000, 1900]
    if individual <= 499:
        return [1900]
    if individual <= 749 and yy >= 54:
        return [1800]
    if yy <= 39:
        return [2000]
    if individual >= 900:
        return [1900]
    return []


def parse(
    raw: str, *, allow_2032_series: bool = True, today: dt.date | None = None
) -> NationalIdentityNumber:
    """Parse and validate ``raw``; raise InvalidNationalIdentityNumber with the reason.

    ``today`` bounds the birth date: where the century is ambiguous (2032 series) the most
    recent century that does not put the birth in the future is chosen.
    """
    latest_birth = today or dt.datetime.now(dt.UTC).date()
    value = raw.replace(" ", "").replace("-", "")
    if len(value) != 11:
        raise InvalidNationalIdentityNumber(f"must have 11 digits, has {len(value)}")
    if not value.isascii() or not value.isdigit():
        raise InvalidNationalIdentityNumber("must contain digits only")
    digits = [int(c) for c in value]

    if _weighted_remainder(digits, K2_WEIGHTS) != 0:
        raise InvalidNationalIdentityNumber("second check digit (K2) does not match")
    k1_remainder = _weighted_remainder(digits, K1_WEIGHTS)
    if k1_remainder == 0:
        series = ControlSeries.CLASSIC
    elif allow_2032_series and k1_remainder in REMAINDERS_ACCEPTED_FROM_2032:
        series = ControlSeries.FROM_2032
    else:
        raise InvalidNationalIdentityNumber("first check digit (K1) does not match")

    if digits[0] >= 8:
        return NationalIdentityNumber(
            value, NinKind.FH_NUMMER, False, series, birth_date=None, sex=None
        )

    day = digits[0] * 10 + digits[1]
    month = digits[2] * 10 + digits[3]
    yy = digits[4] * 10 + digits[5]
    individual = digits[6] * 100 + digits[7] * 10 + digits[8]

    kind = NinKind.FODSELSNUMMER
    if day > D_NUMBER_DAY_OFFSET:
        kind = NinKind.D_NUMMER
        day -= D_NUMBER_DAY_OFFSET
    synthetic = False
    if month > SYNTHETIC_MONTH_OFFSET:
        synthetic = True
        month -= SYNTHETIC_MONTH_OFFSET
    elif month > H_NUMBER_MONTH_OFFSET:
        if kind is NinKind.D_NUMMER:
            raise InvalidNationalIdentityNumber(
                "a number cannot be both a D-nummer and an H-nummer"
            )
        kind = NinKind.H_NUMMER
        month -= H_NUMBER_MONTH_OFFSET

    centuries = _century_candidates(individual, yy, series)
    if not centuries:
        raise InvalidNationalIdentityNumber(
            f"individual number {individual:03d} is not issued for birth year ..{yy:02d}"
        )
    birth_date = None
    for century in centuries:
        try:
            candidate = dt.date(century + yy, month, day)
        except ValueError:
            continue
        if candidate <= latest_birth or century == centuries[-1]:
            birth_date = candidate
            break
    if birth_date is None:
        raise InvalidNationalIdentityNumber(
            f"{value[:6]} is not a valid birth date (day {day}, month {month})"
        )

    sex = None
    if series is ControlSeries.CLASSIC:
        sex = "M" if digits[8] % 2 else "F"
    return NationalIdentityNumber(value, kind, synthetic, series, birth_date, sex)


def is_valid(raw: str) -> bool:
    try:
        parse(raw)
    except InvalidNationalIdentityNumber:
        return False
    return True


def _check_digit(digits: list[int], weights: tuple[int, ...]) -> int | None:
    remainder = sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
    check = (11 - remainder) % 11
    return None if check == 10 else check


def synthetic_number(
    birth_date: dt.date, *, rng: random.Random, sex: str | None = None, d_number: bool = False
) -> str:
    """A valid classic-series number in the synthetic range (month + 80) for test and demo data."""
    year = birth_date.year
    if 1900 <= year <= 1999:
        low, high = 0, 499
    elif 2000 <= year <= 2039:
        low, high = 500, 999
    else:
        raise ValueError("synthetic numbers are generated for births 1900-2039")
    day = birth_date.day + (D_NUMBER_DAY_OFFSET if d_number else 0)
    month = birth_date.month + SYNTHETIC_MONTH_OFFSET
    head = f"{day:02d}{month:02d}{year % 100:02d}"
    for _ in range(1000):
        individual = rng.randint(low, high)
        if sex is not None and (individual % 2 == 1) != (sex == "M"):
            individual = individual + 1 if individual < high else individual - 1
        digits = [int(c) for c in f"{head}{individual:03d}"]
        k1 = _check_digit(digits, K1_WEIGHTS[:9])
        if k1 is None:
            continue
        k2 = _check_digit([*digits, k1], K2_WEIGHTS[:10])
        if k2 is None:
            continue
        return "".join(str(d) for d in [*digits, k1, k2])
    raise RuntimeError("no valid individual number found")  # pragma: no cover


def parse_as(kind: str, raw: str) -> NationalIdentityNumber:
    """Parse ``raw`` and require it to be a number of ``kind`` ('FNR', 'DNR', 'HNR', 'FHN')."""
    parsed = parse(raw)
    if parsed.kind.value != kind:
        raise InvalidNationalIdentityNumber(f"is a {parsed.kind.value}, not a {kind}")
    return parsed
