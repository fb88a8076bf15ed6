"""Signed download tokens and Range parsing.

The tar export read from any offset is laid out by the datasets' one export path: its tests are in
``tests/unit/datasets/test_export_archive.py``.
"""

from __future__ import annotations

import pytest

from datacoop.errors import Forbidden, Gone, InvalidInput
from datacoop.exchange.delivery import DeliveryClaim, parse_range, read_token, sign_token

SECRET = "s" * 64
CLAIM = DeliveryClaim(order_id=7, buyer="0x" + "ab" * 20, licence_id=3, expires=2_000)


def test_a_token_reads_back_its_claim_until_it_expires() -> None:
    token = sign_token(SECRET, CLAIM)
    assert read_token(SECRET, token, now=1_999) == CLAIM
    with pytest.raises(Gone) as expired:
        read_token(SECRET, token, now=2_000)
    assert (expired.value.field, expired.value.limit) == ("token", 2_000)


@pytest.mark.parametrize("change", ["other secret", "payload edited", "mac edited", "no mac"])
def test_a_token_changed_in_any_way_is_refused(change: str) -> None:
    token = sign_token(SECRET, CLAIM)
    payload, mac = token.split(".")
    other = sign_token(SECRET, DeliveryClaim(8, CLAIM.buyer, CLAIM.licence_id, CLAIM.expires)).split(".")[0]
    forged = {
        "other secret": sign_token("t" * 64, CLAIM),
        "payload edited": f"{other}.{mac}",
        "mac edited": f"{payload}.{'0' * len(mac)}",
        "no mac": payload,
    }[change]
    with pytest.raises(Forbidden) as refused:
        read_token(SECRET, forged, now=0)
    assert refused.value.field == "token"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
    ],
)
def test_range_headers(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=7-3", "bytes=-", "items=0-1", "bytes=0-1,5-6"])
def test_bad_or_unsatisfiable_ranges_name_the_field(header: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_range(header, 100)
    assert error.value.field == "range"
