"""Token amounts in a token's own units: exact both ways, refusals that name the field and the limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datacoop.errors import InvalidInput, Unprocessable
from datacoop.tasks.amounts import format_units, parse_units
from datacoop.tasks.schemas import TokenPublic


@pytest.mark.parametrize(
    ("units", "decimals", "shown"),
    [
        (12_500_000, 6, "12.5 USDC"),
        (1, 6, "0.000001 USDC"),
        (100 * 10**6, 6, "100 USDC"),
        (0, 6, "0 USDC"),
        (5 * 10**18, 18, "5 USDC"),
        (7, 0, "7 USDC"),
        (-1_500_000, 6, "-1.5 USDC"),
    ],
)
def test_formats_in_the_tokens_decimals(units: int, decimals: int, shown: str) -> None:
    assert format_units(units, decimals, "USDC") == shown
    assert TokenPublic(address="0x" + "ab" * 20, symbol="USDC", decimals=decimals).format(str(units)) == shown


def test_parses_what_a_person_types() -> None:
    assert parse_units("100", 6) == 100_000_000
    assert parse_units("12.5", 6) == 12_500_000
    assert parse_units(" 0.000001 ", 6) == 1
    assert parse_units("1.500000000", 6) == 1_500_000  # trailing zeros are not extra precision
    assert parse_units("1_000", 0) == 1000
    # exact beyond a float's 53 bits and Decimal's default 28 digits
    assert parse_units("123456789012345678901234567890.123456789012345678", 18) == (
        123456789012345678901234567890123456789012345678
    )


def test_too_many_decimal_places_names_the_field_and_the_limit() -> None:
    with pytest.raises(Unprocessable) as caught:
        parse_units("0.0000001", 6, "--budget")
    assert (caught.value.field, caught.value.limit) == ("--budget", 6)
    assert "7 decimal places" in caught.value.message and "has 6" in caught.value.message


@pytest.mark.parametrize("text", ["", "abc", "1e6", "-5", "1.", ".5", "1,5", "0x10"])
def test_refuses_what_is_not_a_plain_number(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_units(text, 6, "reward")
    assert caught.value.field == "reward"


def test_zero_and_overflow_are_refused() -> None:
    with pytest.raises(Unprocessable, match="more than 0"):
        parse_units("0.000", 6, "budget")
    assert parse_units("0", 6, allow_zero=True) == 0
    with pytest.raises(Unprocessable, match="uint256"):
        parse_units(str(2**256), 0)
    assert parse_units(str(2**256 - 1), 0) == 2**256 - 1


@given(units=st.integers(min_value=0, max_value=2**256 - 1), decimals=st.integers(min_value=0, max_value=77))
def test_format_then_parse_is_the_identity(units: int, decimals: int) -> None:
    assert parse_units(format_units(units, decimals), decimals, allow_zero=True) == units
