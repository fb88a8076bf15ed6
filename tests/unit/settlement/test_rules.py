"""Settlement arithmetic: within the escrow, nothing skipped, entitlements only rise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datacoop.settlement.rules import Earning, allocate

ACCOUNTS = [f"0x{i:040x}" for i in range(1, 6)]


def test_takes_in_order_until_the_budget_is_spent() -> None:
    earnings = [Earning(1, ACCOUNTS[0], 5), Earning(2, ACCOUNTS[1], 4), Earning(3, ACCOUNTS[0], 1)]
    plan = allocate({}, earnings, funded=8)
    assert [e.id for e in plan.taken] == [1]  # 5 + 4 > 8: the 4 waits, and so does the later 1
    assert [e.id for e in plan.waiting] == [2, 3]
    assert (plan.total, plan.added, plan.shortfall) == (5, 5, 5)


def test_adds_to_the_previous_epoch() -> None:
    previous = {ACCOUNTS[0]: 10}
    plan = allocate(previous, [Earning(7, ACCOUNTS[0], 3), Earning(8, ACCOUNTS[1], 2)], funded=100)
    assert plan.entitlements == {
        "0x0000000000000000000000000000000000000001": 13,
        "0x0000000000000000000000000000000000000002": 2,
    }
    assert plan.total == 15


def test_refuses_a_previous_total_over_budget_and_negative_amounts() -> None:
    with pytest.raises(ValueError, match="exceeds the funded budget"):
        allocate({ACCOUNTS[0]: 11}, [], funded=10)
    with pytest.raises(ValueError, match="must not be negative"):
        Earning(1, ACCOUNTS[0], -1)


@given(
    previous=st.dictionaries(st.sampled_from(ACCOUNTS), st.integers(0, 50), max_size=5),
    amounts=st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(0, 40)), max_size=30),
    extra=st.integers(0, 500),
)
def test_invariants(previous: dict[str, int], amounts: list[tuple[str, int]], extra: int) -> None:
    funded = sum(previous.values()) + extra
    earnings = [Earning(i, a, v) for i, (a, v) in enumerate(amounts)]
    plan = allocate(previous, earnings, funded=funded)
    assert plan.total <= funded
    assert plan.total == sum(plan.entitlements.values()) == sum(previous.values()) + plan.added
    assert list(plan.taken) + list(plan.waiting) == earnings  # a prefix is taken, nothing skipped
    lowered = {a.lower(): v for a, v in plan.entitlements.items()}
    assert all(lowered[a.lower()] >= v for a, v in previous.items())  # entitlements only grow
    if plan.waiting:
        assert plan.total + plan.waiting[0].amount > funded
