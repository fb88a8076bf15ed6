"""The off-chain tree builder and the on-chain verifier agree (RELIABILITY B11)."""

from __future__ import annotations

from typing import Any

import boa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.contracts.conftest import DAY
from tests.contracts.tree import build_tree

from datacoop.errors import InvalidInput

ACCOUNTS = [boa.env.generate_address(f"roundtrip{i}") for i in range(40)]

values_strategy = st.lists(
    st.tuples(st.sampled_from(ACCOUNTS), st.integers(min_value=1, max_value=2**80)),
    min_size=1,
    max_size=24,
    unique_by=lambda value: value[0],
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=values_strategy)
def test_every_proof_the_builder_gives_pays_on_chain(
    values: list[tuple[str, int]], escrow: Any, token: Any, funded_requester: str, operator: str
) -> None:
    # Prepare: fund exactly the sum of the leaves
    total = sum(amount for _, amount in values)
    token.mint(funded_requester, total)
    task_id = escrow.openTask(token.address, total, boa.env.timestamp + DAY, DAY, sender=funded_requester)
    tree = build_tree(values)
    escrow.postRoot(task_id, 1, tree.root, total, sender=operator)
    # Execute
    for account, amount in values:
        escrow.claim(task_id, account, amount, tree.proof(account, amount))
    # Assert
    for account, amount in values:
        assert escrow.claimed(task_id, account) == amount
    task = escrow.tasks(task_id)
    assert task.paid == task.total == task.funded == total


@given(values=values_strategy, data=st.data())
def test_a_repeated_address_is_rejected_deterministically(values: list[tuple[str, int]], data: Any) -> None:
    account, _ = data.draw(st.sampled_from(values))
    with pytest.raises(InvalidInput):
        build_tree([*values, (account, 1)])
