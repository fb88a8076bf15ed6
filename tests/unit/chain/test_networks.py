"""Network profiles and the EIP-1559 fee policy the outbox prices transactions with."""

from __future__ import annotations

import pytest

from datacoop.chain.networks import NETWORKS, FeePolicy, gwei, network_for
from datacoop.errors import InvalidInput, NotFound


def test_a_named_network_gives_its_chain_id_depth_and_fees() -> None:
    network = network_for("base-sepolia")
    assert (network.chain_id, network.confirmations) == (84_532, 10)
    assert network.fees.priority_fee == gwei(0.01) == 10_000_000


def test_the_user_overrides_a_profile_value_by_value() -> None:
    network = network_for("sepolia", confirmations=5, max_fee_gwei=50, priority_fee_gwei=2)
    assert network.confirmations == 5
    assert (network.fees.max_fee_cap, network.fees.priority_fee) == (gwei(50), gwei(2))
    assert NETWORKS["sepolia"].confirmations == 3  # the profile itself is untouched


def test_a_misspelt_network_is_refused_with_a_suggestion() -> None:
    with pytest.raises(NotFound, match="Did you mean 'sepolia'") as err:
        network_for("sepolia2")
    assert err.value.field == "network"


def test_a_chain_id_that_contradicts_the_profile_is_refused() -> None:
    with pytest.raises(InvalidInput, match="84532, not 1") as err:
        network_for("base-sepolia", chain_id=1)
    assert err.value.field == "chain_id"


def test_without_a_name_the_chain_id_makes_a_custom_profile() -> None:
    assert network_for(None, chain_id=1337).chain_id == 1337
    with pytest.raises(InvalidInput) as err:
        network_for(None)
    assert err.value.field == "chain_id"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"confirmations": 0}, "confirmations"),
        ({"max_fee_gwei": -1}, "max_fee_gwei"),
        ({"priority_fee_gwei": 10**6}, "priority_fee_gwei"),
        ({"max_fee_gwei": 1, "priority_fee_gwei": 2}, "priority_fee_gwei"),
    ],
)
def test_out_of_range_options_name_their_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        network_for("anvil", **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_default_policy_is_twice_the_base_fee_plus_a_one_gwei_tip() -> None:
    assert FeePolicy().initial(base_fee=gwei(3)) == (gwei(7), gwei(1))


def test_the_cap_bounds_the_first_price_and_every_bump() -> None:
    # Prepare
    policy = FeePolicy(priority_fee=gwei(1), max_fee_cap=gwei(10))
    # Execute
    first = policy.initial(base_fee=gwei(4))
    bumped = policy.bump(*first)
    at_cap = policy.bump(gwei(10), gwei(1))
    # Assert: 2×4+1 = 9; +25 % would be 11.25, capped at 10 (still ≥ 10 % above 9)
    assert first == (gwei(9), gwei(1))
    assert bumped == (gwei(10), gwei(1) * 5 // 4 + 1)
    assert at_cap is None  # a replacement cannot clear the 10 % rule under the cap: wait instead


def test_a_bump_raises_both_fees_past_the_replacement_rule() -> None:
    max_fee, tip = FeePolicy().bump(gwei(10), gwei(1)) or (0, 0)
    assert max_fee >= gwei(10) * 11 // 10 and tip >= gwei(1) * 11 // 10
