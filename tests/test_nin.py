"""Norwegian national identity numbers: fødselsnummer, D-nummer, H-nummer and the 2032 rules.

Pure: no database. Check digits are computed here with the weights written out again, so the
tests do not lean on the module's own constants.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worklists import nin
from worklists.nin import ControlSeries, InvalidNationalIdentityNumber, NinKind

K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)  # over the first ten digits (K1 included)
K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)  # over the first ten digits; K2 has weight 1


def _weighted(digits: list[int], weights: tuple[int, ...]) -> int:
    return sum(d * w for d, w in zip(digits, weights, strict=True))


def with_check_digits(first_nine: str, *, k1_remainder: int = 0) -> str | None:
    """``first_nine`` plus a K1 giving ``k1_remainder`` and a valid K2; None if either is 10."""
    assert len(first_nine) == 9
    digits = [int(c) for c in first_nine]
    # K1 has weight 1, so the full K1 sum is (sum of the first nine) + K1.
    k1 = (k1_remainder - _weighted(digits, K1_WEIGHTS[:9])) % 11
    if k1 == 10:
        return None
    digits.append(k1)
    k2 = (-_weighted(digits, K2_WEIGHTS)) % 11
    if k2 == 10:
        return None
    return "".join(map(str, [*digits, k2]))


def first_valid(head: str, individuals: range, *, k1_remainder: int = 0) -> str:
    """The first number ``head`` + individual (from ``individuals``) that has check digits."""
    for individual in individuals:
        number = with_check_digits(f"{head}{individual:03d}", k1_remainder=k1_remainder)
        if number is not None:
            return number
    raise AssertionError(f"no individual number in {individuals} gives check digits for {head}")


def k1_remainder_of(number: str) -> int:
    return _weighted([int(c) for c in number[:10]], K1_WEIGHTS) % 11


def k2_sum_is_divisible(number: str) -> bool:
    digits = [int(c) for c in number]
    return (_weighted(digits[:10], K2_WEIGHTS) + digits[10]) % 11 == 0


# --- published examples -------------------------------------------------------------------------


def test_the_published_matematikk_org_example_is_a_woman_born_2_january_1961():
    parsed = nin.parse("02016126007")

    assert parsed.kind is NinKind.FODSELSNUMMER
    assert parsed.birth_date == dt.date(1961, 1, 2)
    assert parsed.sex == "F"
    assert parsed.control_series is ControlSeries.CLASSIC
    assert parsed.synthetic is False
    assert parsed.value == "02016126007"


def test_the_published_fnrinfo_example_is_born_31_december_1899():
    # Individual number 567 with year 99: the 500-749 series for 1855-1899.
    parsed = nin.parse("31129956715")

    assert parsed.kind is NinKind.FODSELSNUMMER
    assert parsed.birth_date == dt.date(1899, 12, 31)
    assert parsed.sex == "M"
    assert parsed.control_series is ControlSeries.CLASSIC


def test_a_d_number_is_recognised_and_its_birth_date_read():
    parsed = nin.parse("43022014103")

    assert parsed.kind is NinKind.D_NUMMER
    assert parsed.birth_date == dt.date(1920, 2, 3)
    assert parsed.sex == "M"
    assert parsed.synthetic is False


def test_spaces_and_a_dash_between_date_and_personal_number_are_ignored():
    assert nin.parse("020161 26007").value == "02016126007"
    assert nin.parse("020161-26007").birth_date == dt.date(1961, 1, 2)


def test_an_h_number_has_forty_added_to_the_month_and_is_recognised():
    number = first_valid("024161", range(260, 500))

    parsed = nin.parse(number)

    assert parsed.kind is NinKind.H_NUMMER
    assert parsed.birth_date == dt.date(1961, 1, 2)
    assert parsed.synthetic is False


def test_an_fh_number_starts_with_eight_or_nine_and_carries_no_birth_date():
    number = first_valid("812345", range(100, 200))

    parsed = nin.parse(number)

    assert parsed.kind is NinKind.FH_NUMMER
    assert parsed.birth_date is None
    assert parsed.sex is None


def test_is_valid_mirrors_parse():
    assert nin.is_valid("02016126007") is True
    assert nin.is_valid("02016126008") is False


# --- invalid numbers ----------------------------------------------------------------------------


def _replace_digit(number: str, position: int) -> str:
    """``number`` with the digit at 1-based ``position`` changed to another digit."""
    index = position - 1
    changed = str((int(number[index]) + 1) % 10)
    return number[:index] + changed + number[index + 1 :]


@pytest.mark.parametrize("number", ["02016126007", "31129956715", "43022014103"])
def test_a_changed_first_check_digit_is_rejected(number):
    with pytest.raises(InvalidNationalIdentityNumber):
        nin.parse(_replace_digit(number, 10))


@pytest.mark.parametrize("number", ["02016126007", "31129956715", "43022014103"])
def test_a_changed_second_check_digit_is_rejected_as_a_k2_mismatch(number):
    with pytest.raises(InvalidNationalIdentityNumber, match="K2"):
        nin.parse(_replace_digit(number, 11))


def test_a_wrong_k1_with_a_matching_k2_is_rejected_as_a_k1_mismatch():
    # Remainder 5 is outside both the classic (0) and the 2032 (1, 2, 3) series.
    number = first_valid("020161", range(260, 500), k1_remainder=5)
    assert k2_sum_is_divisible(number)

    with pytest.raises(InvalidNationalIdentityNumber, match="K1"):
        nin.parse(number)


FULL_WIDTH_EXAMPLE = "".join(chr(0xFF10 + int(c)) for c in "02016126007")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0201612600", "11 digits"),
        ("020161260071", "11 digits"),
        ("", "11 digits"),
        ("0201612600A", "digits only"),
        ("O2016126007", "digits only"),
        ("02016126OO7", "digits only"),
        (FULL_WIDTH_EXAMPLE, "digits only"),  # full-width digits are not ASCII digits
    ],
)
def test_a_number_of_the_wrong_length_or_with_non_digits_is_rejected(raw, reason):
    with pytest.raises(InvalidNationalIdentityNumber, match=reason):
        nin.parse(raw)


@pytest.mark.parametrize(
    "head",
    [
        "310299",  # 31 February
        "300285",  # 30 February
        "290201",  # 29 February in a non-leap year
        "320185",  # 32 January
        "001385",  # day 0
        "011385",  # month 13
        "010085",  # month 0
    ],
)
def test_an_impossible_birth_date_is_rejected(head):
    number = first_valid(head, range(100, 500))

    with pytest.raises(InvalidNationalIdentityNumber, match="not a valid birth date"):
        nin.parse(number)


def test_29_february_of_a_leap_year_is_a_valid_birth_date():
    number = first_valid("290296", range(100, 500))

    assert nin.parse(number).birth_date == dt.date(1996, 2, 29)


@pytest.mark.parametrize(
    ("head", "individuals"),
    [
        ("010150", range(750, 900)),  # 750-899 are not issued for years 40-99
        ("010199", range(750, 900)),
        ("010145", range(500, 750)),  # 500-749 are for 1854-1899 only, so not year 45
    ],
)
def test_an_individual_number_not_issued_for_that_birth_year_is_rejected(head, individuals):
    number = first_valid(head, individuals)
    assert k1_remainder_of(number) == 0  # a classic number whose check digits are right

    with pytest.raises(InvalidNationalIdentityNumber, match="not issued for birth year"):
        nin.parse(number)


@pytest.mark.parametrize(
    ("head", "individuals", "birth_date"),
    [
        ("010150", range(0, 500), dt.date(1950, 1, 1)),
        ("010150", range(900, 1000), dt.date(1950, 1, 1)),  # the reserve series for 1940-1999
        ("010160", range(500, 750), dt.date(1860, 1, 1)),
        ("010110", range(500, 1000), dt.date(2010, 1, 1)),
    ],
)
def test_the_individual_number_tells_the_century(head, individuals, birth_date):
    number = first_valid(head, individuals)

    assert nin.parse(number).birth_date == birth_date


def test_a_number_that_is_both_a_d_number_and_an_h_number_is_rejected():
    number = first_valid("424161", range(100, 500))  # day 2 + 40, month 1 + 40

    with pytest.raises(InvalidNationalIdentityNumber, match="both a D-nummer and an H-nummer"):
        nin.parse(number)


# --- the 2032 rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("remainder", [1, 2, 3])
def test_a_number_whose_k1_sum_leaves_remainder_1_2_or_3_is_accepted_in_the_2032_series(
    remainder,
):
    number = first_valid("150333", range(100, 500), k1_remainder=remainder)
    assert k1_remainder_of(number) == remainder
    assert k2_sum_is_divisible(number)

    parsed = nin.parse(number, today=dt.date(2034, 1, 1))

    assert parsed.control_series is ControlSeries.FROM_2032
    assert parsed.sex is None  # the reformed numbers no longer tell the holder's sex
    assert parsed.kind is NinKind.FODSELSNUMMER
    assert parsed.birth_date == dt.date(2033, 3, 15)
    assert nin.is_valid(number)


def test_a_2032_series_birth_date_is_never_placed_in_the_future():
    number = first_valid("150333", range(100, 500), k1_remainder=2)

    assert nin.parse(number, today=dt.date(2026, 11, 26)).birth_date == dt.date(1933, 3, 15)
    assert nin.parse(number, today=dt.date(2033, 3, 15)).birth_date == dt.date(2033, 3, 15)


@pytest.mark.parametrize("remainder", [1, 2, 3])
def test_a_2032_series_number_is_rejected_when_that_series_is_not_allowed(remainder):
    number = first_valid("150333", range(100, 500), k1_remainder=remainder)

    with pytest.raises(InvalidNationalIdentityNumber, match="K1"):
        nin.parse(number, allow_2032_series=False)


@pytest.mark.parametrize("allow_2032_series", [True, False])
def test_a_k1_remainder_of_4_is_always_rejected(allow_2032_series):
    number = first_valid("150333", range(100, 500), k1_remainder=4)
    assert k2_sum_is_divisible(number)

    with pytest.raises(InvalidNationalIdentityNumber, match="K1"):
        nin.parse(number, allow_2032_series=allow_2032_series)


@pytest.mark.parametrize("remainder", range(1, 11))
def test_every_k1_remainder_other_than_0_to_3_is_rejected(remainder):
    number = first_valid("150385", range(100, 500), k1_remainder=remainder)

    if remainder in (1, 2, 3):
        assert nin.parse(number).control_series is ControlSeries.FROM_2032
    else:
        with pytest.raises(InvalidNationalIdentityNumber, match="K1"):
            nin.parse(number)


def test_a_classic_number_is_still_classic_when_the_2032_series_is_not_allowed():
    parsed = nin.parse("02016126007", allow_2032_series=False)

    assert parsed.control_series is ControlSeries.CLASSIC
    assert parsed.sex == "F"


def test_a_d_number_in_the_2032_series_is_still_a_d_number():
    number = first_valid("551033", range(100, 500), k1_remainder=2)  # 15.10.33 + 40 on the day

    parsed = nin.parse(number, today=dt.date(2034, 1, 1))

    assert parsed.kind is NinKind.D_NUMMER
    assert parsed.control_series is ControlSeries.FROM_2032
    assert parsed.birth_date == dt.date(2033, 10, 15)


# --- synthetic numbers --------------------------------------------------------------------------


def test_a_synthetic_number_has_eighty_added_to_the_month():
    number = nin.synthetic_number(dt.date(1970, 5, 17), rng=random.Random(1))

    assert number[:6] == "178570"
    assert nin.parse(number).synthetic is True


def test_the_published_examples_are_not_synthetic():
    assert nin.parse("02016126007").synthetic is False
    assert nin.parse("43022014103").synthetic is False


@pytest.mark.parametrize("birth_date", [dt.date(1899, 12, 31), dt.date(2040, 1, 1)])
def test_synthetic_numbers_are_only_generated_for_births_1900_to_2039(birth_date):
    with pytest.raises(ValueError, match="1900-2039"):
        nin.synthetic_number(birth_date, rng=random.Random(0))


def test_the_same_seed_gives_the_same_synthetic_number():
    day = dt.date(1985, 6, 30)

    first = nin.synthetic_number(day, rng=random.Random(42))
    second = nin.synthetic_number(day, rng=random.Random(42))

    assert first == second


@given(
    birth_date=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2039, 12, 31)),
    sex=st.sampled_from([None, "M", "F"]),
    d_number=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_synthetic_number_always_parses_back_to_its_birth_date_and_sex(
    birth_date, sex, d_number, seed
):
    number = nin.synthetic_number(birth_date, rng=random.Random(seed), sex=sex, d_number=d_number)

    parsed = nin.parse(number)

    assert len(number) == 11
    assert number.isdigit()
    assert parsed.synthetic is True
    assert parsed.birth_date == birth_date
    assert parsed.kind is (NinKind.D_NUMMER if d_number else NinKind.FODSELSNUMMER)
    assert parsed.control_series is ControlSeries.CLASSIC
    assert parsed.sex in ("M", "F")
    if sex is not None:
        assert parsed.sex == sex
    assert nin.parse(number, allow_2032_series=False) == parsed
