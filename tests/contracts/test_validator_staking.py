"""ValidatorStaking: stake, unbond, withdraw, slash (RELIABILITY D17, D18)."""

from __future__ import annotations

from typing import Any

import boa
import pytest
from tests.contracts.conftest import DAY, UNIT

REASON = b"\x42" * 32


@pytest.fixture
def treasury() -> str:
    return boa.env.generate_address("treasury")


@pytest.fixture
def staking(deployers: dict[str, Any], token: Any, treasury: str, admin: str, operator: str) -> Any:
    with boa.env.prank(admin):
        return deployers["ValidatorStaking"].deploy(token.address, treasury, 7 * DAY, operator)


@pytest.fixture
def validator(token: Any, staking: Any) -> str:
    account = boa.env.generate_address("validator")
    token.mint(account, 1000 * UNIT)
    token.approve(staking.address, 2**256 - 1, sender=account)
    return account


def assert_conserved(staking: Any, token: Any) -> None:
    """RELIABILITY D18: staked + unbonding + slashed + withdrawn == deposited; the balance backs it."""
    assert (
        staking.totalStaked() + staking.totalUnbonding() + staking.totalSlashed() + staking.totalWithdrawn()
        == staking.totalDeposited()
    )
    assert token.balanceOf(staking.address) == staking.totalStaked() + staking.totalUnbonding()


def events(contract: Any, name: str) -> list[Any]:
    return [log for log in contract.get_logs() if type(log).__name__ == name]


@pytest.mark.parametrize("delay", [0, 1, DAY - 1])
def test_the_unbonding_delay_has_a_floor_of_one_day(
    deployers: dict[str, Any], token: Any, treasury: str, operator: str, delay: int
) -> None:
    """RELIABILITY D17: a deployment cannot choose a delay of (almost) nothing."""
    with boa.reverts("ValidatorStaking: unbonding delay too short"):
        deployers["ValidatorStaking"].deploy(token.address, treasury, delay, operator)


def test_the_unbonding_delay_has_a_ceiling(
    deployers: dict[str, Any], token: Any, treasury: str, operator: str
) -> None:
    with boa.reverts("ValidatorStaking: unbonding delay too long"):
        deployers["ValidatorStaking"].deploy(token.address, treasury, 365 * DAY + 1, operator)


@pytest.mark.parametrize("which", ["token", "treasury", "operator"])
def test_zero_addresses_are_refused_at_deployment(
    deployers: dict[str, Any], token: Any, treasury: str, operator: str, which: str
) -> None:
    zero = "0x" + "00" * 20
    args = {"token": token.address, "treasury": treasury, "operator": operator, which: zero}
    with boa.reverts(f"ValidatorStaking: {which} is zero"):
        deployers["ValidatorStaking"].deploy(args["token"], args["treasury"], DAY, args["operator"])


def test_stake_unbond_and_withdraw(staking: Any, token: Any, validator: str) -> None:
    # Prepare / Execute
    staking.stake(100 * UNIT, sender=validator)
    (staked,) = events(staking, "Staked")
    staking.requestUnbond(40 * UNIT, sender=validator)
    (requested,) = events(staking, "UnbondRequested")
    # Assert
    assert (staked.validator, staked.amount, staked.staked) == (validator, 100 * UNIT, 100 * UNIT)
    assert (requested.amount, requested.unbonding, requested.releaseAt) == (
        40 * UNIT,
        40 * UNIT,
        boa.env.timestamp + 7 * DAY,
    )
    record = staking.validators(validator)
    assert (record.staked, record.unbonding, record.slashed) == (60 * UNIT, 40 * UNIT, 0)
    assert staking.slashable(validator) == 100 * UNIT
    boa.env.time_travel(seconds=7 * DAY - 1)
    with boa.reverts("ValidatorStaking: still unbonding"):
        staking.withdraw(sender=validator)
    boa.env.time_travel(seconds=1)
    staking.withdraw(sender=validator)
    assert token.balanceOf(validator) == 940 * UNIT
    assert staking.validators(validator).unbonding == 0
    assert_conserved(staking, token)


def test_a_new_unbond_request_restarts_the_delay(staking: Any, validator: str) -> None:
    staking.stake(100 * UNIT, sender=validator)
    staking.requestUnbond(10 * UNIT, sender=validator)
    boa.env.time_travel(seconds=6 * DAY)
    staking.requestUnbond(10 * UNIT, sender=validator)
    boa.env.time_travel(seconds=DAY)
    with boa.reverts("ValidatorStaking: still unbonding"):
        staking.withdraw(sender=validator)
    boa.env.time_travel(seconds=6 * DAY)
    staking.withdraw(sender=validator)
    assert [log.amount for log in events(staking, "Withdrawn")] == [20 * UNIT]


def test_stake_and_unbond_reject_bad_amounts(staking: Any, validator: str) -> None:
    with boa.reverts("ValidatorStaking: amount is zero"):
        staking.stake(0, sender=validator)
    staking.stake(10, sender=validator)
    with boa.reverts("ValidatorStaking: amount is zero"):
        staking.requestUnbond(0, sender=validator)
    with boa.reverts("ValidatorStaking: amount above stake"):
        staking.requestUnbond(11, sender=validator)
    with boa.reverts("ValidatorStaking: nothing unbonding"):
        staking.withdraw(sender=validator)


def test_a_fee_on_transfer_stake_credits_what_arrived(
    deployers: dict[str, Any], treasury: str, operator: str
) -> None:
    fee_token = deployers["FeeOnTransferToken"].deploy()
    staking = deployers["ValidatorStaking"].deploy(fee_token.address, treasury, DAY, operator)
    account = boa.env.generate_address()
    fee_token.mint(account, 1000)
    fee_token.approve(staking.address, 1000, sender=account)
    staking.stake(1000, sender=account)
    assert staking.validators(account).staked == 990 == fee_token.balanceOf(staking.address)


def test_slash_takes_stake_then_unbonding_and_pays_the_treasury(
    staking: Any, token: Any, validator: str, operator: str, treasury: str
) -> None:
    staking.stake(100 * UNIT, sender=validator)
    staking.requestUnbond(30 * UNIT, sender=validator)
    assert staking.slash(validator, 80 * UNIT, REASON, sender=operator) == 80 * UNIT
    (slashed,) = events(staking, "Slashed")
    assert (slashed.validator, slashed.reasonHash, slashed.amount) == (validator, REASON, 80 * UNIT)
    assert (slashed.fromStake, slashed.fromUnbonding) == (70 * UNIT, 10 * UNIT)
    record = staking.validators(validator)
    assert (record.staked, record.unbonding, record.slashed) == (0, 20 * UNIT, 80 * UNIT)
    assert token.balanceOf(treasury) == 80 * UNIT
    assert_conserved(staking, token)


def test_unbonding_just_before_a_known_slash_does_not_escape_it(
    staking: Any, token: Any, validator: str, operator: str
) -> None:
    """RELIABILITY D17: everything still inside the unbonding window is slashable."""
    staking.stake(100 * UNIT, sender=validator)
    staking.requestUnbond(100 * UNIT, sender=validator)
    boa.env.time_travel(seconds=7 * DAY - 1)
    assert staking.slash(validator, 100 * UNIT, REASON, sender=operator) == 100 * UNIT
    boa.env.time_travel(seconds=1)
    with boa.reverts("ValidatorStaking: nothing unbonding"):
        staking.withdraw(sender=validator)
    assert_conserved(staking, token)


def test_a_slash_is_capped_at_the_slashable_stake(
    staking: Any, token: Any, validator: str, operator: str
) -> None:
    """RELIABILITY D18: a slash never makes a balance negative."""
    staking.stake(50 * UNIT, sender=validator)
    assert staking.slash(validator, 500 * UNIT, REASON, sender=operator) == 50 * UNIT
    assert staking.slashable(validator) == 0
    with boa.reverts("ValidatorStaking: nothing to slash"):
        staking.slash(validator, 1, REASON, sender=operator)
    assert_conserved(staking, token)


def test_withdrawn_stake_is_no_longer_slashable(
    staking: Any, token: Any, validator: str, operator: str
) -> None:
    staking.stake(50 * UNIT, sender=validator)
    staking.requestUnbond(50 * UNIT, sender=validator)
    boa.env.time_travel(seconds=7 * DAY)
    staking.withdraw(sender=validator)
    with boa.reverts("ValidatorStaking: nothing to slash"):
        staking.slash(validator, 1, REASON, sender=operator)


def test_slash_is_for_the_operator_only_with_a_reason(
    staking: Any, validator: str, operator: str, admin: str
) -> None:
    staking.stake(50 * UNIT, sender=validator)
    for caller in (admin, validator):
        with boa.reverts("access_control: account is missing role"):
            staking.slash(validator, 1, REASON, sender=caller)
    with boa.reverts("ValidatorStaking: reason is zero"):
        staking.slash(validator, 1, b"\0" * 32, sender=operator)
    with boa.reverts("ValidatorStaking: amount is zero"):
        staking.slash(validator, 0, REASON, sender=operator)


def test_a_withdrawal_reentered_from_the_token_pays_once(
    deployers: dict[str, Any], treasury: str, operator: str
) -> None:
    hostile = deployers["ReentrantToken"].deploy()
    staking = deployers["ValidatorStaking"].deploy(hostile.address, treasury, DAY, operator)
    account = boa.env.generate_address()
    hostile.mint(account, 100)
    hostile.approve(staking.address, 100, sender=account)
    staking.stake(100, sender=account)
    staking.requestUnbond(100, sender=account)
    boa.env.time_travel(seconds=DAY)
    hostile.arm(staking.address, staking.withdraw.prepare_calldata(), False)
    staking.withdraw(sender=account)
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert hostile.balanceOf(account) == 100
    assert hostile.balanceOf(staking.address) == 0
