"""Royalty shares: proportional to items, floored, never above the pool, growing with every sale."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datacoop.exchange.royalties import contributor_counts, shares

A, B, C = ("0x" + c * 40 for c in "abc")
accounts = st.sampled_from([A, B, C, "0x" + "d" * 40, "0x" + "e" * 40])
counts = st.dictionaries(accounts, st.integers(1, 1_000), min_size=1)


def test_two_to_one_with_one_unit_of_dust() -> None:
    owed = shares(300_001, {A: 2, B: 1})
    assert owed == {A: 200_000, B: 100_000}
    assert 300_001 - sum(owed.values()) == 1


@given(st.integers(0, 2**96), counts)
def test_the_sum_never_exceeds_what_was_credited_and_dust_is_below_one_unit_each(
    credited: int, items: dict[str, int]
) -> None:
    owed = shares(credited, items)
    assert 0 <= credited - sum(owed.values()) < len(items)


@given(st.integers(0, 2**90), st.integers(0, 2**90), counts)
def test_shares_only_grow_as_sales_add_up(first: int, more: int, items: dict[str, int]) -> None:
    before, after = shares(first, items), shares(first + more, items)
    assert all(after[a] >= before[a] for a in items)


def test_contributors_are_counted_from_their_dids() -> None:
    dids = [f"did:pkh:eip155:31337:{A}", f"did:pkh:eip155:31337:{A}", f"did:pkh:eip155:31337:{B}"]
    assert {k.lower(): v for k, v in contributor_counts(dids).items()} == {A: 2, B: 1}


def test_no_items_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        shares(10, {})
