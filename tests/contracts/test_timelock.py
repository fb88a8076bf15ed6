"""TimelockController as DataCoop's admin: a parameter change is on chain for its delay before it applies.

Issue 19: "a fee change through the timelock applies only after its delay". LicenseMarket's operator fee
is the parameter; the roles are handed over the way ``datacoop.chain.deploy`` hands them over
(grant DEFAULT_ADMIN_ROLE to the timelock, the deployer renounces its own).
"""

from __future__ import annotations

from typing import Any

import boa
import pytest
from tests.contracts.conftest import DAY, TERMS, UNIT

DELAY = 2 * DAY
ZERO = b"\0" * 32
SALT = b"\x01" * 32


@pytest.fixture
def proposer() -> str:
    return boa.env.generate_address("proposer")  # a multisig on a public chain


@pytest.fixture
def executor() -> str:
    return boa.env.generate_address("executor")


@pytest.fixture
def timelock(deployers: dict[str, Any], proposer: str, executor: str, operator: str) -> Any:
    with boa.env.prank(operator):  # deployed by the node's key, which keeps no role
        return deployers["TimelockController"].deploy(DELAY, [proposer], [executor], "0x" + "00" * 20)


@pytest.fixture
def governed_market(market: Any, timelock: Any, admin: str) -> Any:
    """The market with its admin role handed to the timelock."""
    admin_role = market.DEFAULT_ADMIN_ROLE()
    market.grantRole(admin_role, timelock.address, sender=admin)
    market.renounceRole(admin_role, admin, sender=admin)
    return market


def fee_change(market: Any, bps: int) -> tuple[str, int, bytes, bytes, bytes]:
    """``execute``'s arguments for ``market.setOperatorFee(bps)``."""
    return (market.address, 0, market.setOperatorFee.prepare_calldata(bps), ZERO, SALT)


def test_the_deployer_keeps_no_role_on_the_timelock(timelock: Any, operator: str, proposer: str) -> None:
    for role in ("DEFAULT_ADMIN_ROLE", "PROPOSER_ROLE", "EXECUTOR_ROLE", "CANCELLER_ROLE"):
        assert not timelock.hasRole(getattr(timelock, role)(), operator)
    assert timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), timelock.address)  # self-administered
    assert timelock.hasRole(timelock.CANCELLER_ROLE(), proposer)
    assert timelock.get_minimum_delay() == DELAY


def test_a_fee_change_applies_only_after_the_delay(
    governed_market: Any, timelock: Any, proposer: str, executor: str, registry: Any, dataset: int,
    publisher: str, token: Any,
) -> None:  # fmt: skip
    # Prepare
    market = governed_market
    call = fee_change(market, 700)
    # Execute: schedule; the call is visible on chain from now
    timelock.schedule(*call, DELAY, sender=proposer)
    scheduled = [e for e in timelock.get_logs() if type(e).__name__ == "CallScheduled"]
    # Assert
    assert [(e.target, e.payload, e.delay) for e in scheduled] == [(market.address, call[2], DELAY)]
    boa.env.time_travel(seconds=DELAY - 1)
    with boa.reverts("timelock_controller: operation is not ready"):
        timelock.execute(*call, sender=executor)
    assert market.operatorFeeBps() == 500  # unchanged while the delay runs
    boa.env.time_travel(seconds=1)
    timelock.execute(*call, sender=executor)
    assert market.operatorFeeBps() == 700
    listing = market.list(dataset, 1, token.address, 100 * UNIT, TERMS, DAY, 1000, sender=publisher)
    assert market.listings(listing).operatorFeeBps == 700  # in effect for new listings
    with boa.reverts("timelock_controller: operation is not ready"):
        timelock.execute(*call, sender=executor)  # once


def test_a_delay_shorter_than_the_minimum_is_refused(
    governed_market: Any, timelock: Any, proposer: str
) -> None:
    with boa.reverts("timelock_controller: insufficient delay"):
        timelock.schedule(*fee_change(governed_market, 700), DELAY - 1, sender=proposer)


def test_only_the_timelock_changes_the_fee_once_it_is_admin(
    governed_market: Any, timelock: Any, admin: str, operator: str, proposer: str, executor: str
) -> None:
    market = governed_market
    admin_role = market.DEFAULT_ADMIN_ROLE()
    assert market.hasRole(admin_role, timelock.address)
    assert not market.hasRole(admin_role, admin) and not market.hasRole(admin_role, operator)
    for caller in (admin, operator, proposer, executor):
        with boa.reverts("access_control: account is missing role"):
            market.setOperatorFee(0, sender=caller)
        with boa.reverts("access_control: account is missing role"):
            market.grantRole(admin_role, caller, sender=caller)


def test_only_proposers_schedule_and_only_executors_execute(
    governed_market: Any, timelock: Any, operator: str, proposer: str, executor: str
) -> None:
    call = fee_change(governed_market, 0)
    with boa.reverts("access_control: account is missing role"):
        timelock.schedule(*call, DELAY, sender=operator)
    timelock.schedule(*call, DELAY, sender=proposer)
    boa.env.time_travel(seconds=DELAY)
    for caller in (operator, proposer):
        with boa.reverts("access_control: account is missing role"):
            timelock.execute(*call, sender=caller)


def test_a_cancelled_change_never_applies(
    governed_market: Any, timelock: Any, proposer: str, executor: str
) -> None:
    call = fee_change(governed_market, 1000)
    timelock.schedule(*call, DELAY, sender=proposer)
    timelock.cancel(timelock.hash_operation(*call), sender=proposer)
    boa.env.time_travel(seconds=DELAY)
    with boa.reverts("timelock_controller: operation is not ready"):
        timelock.execute(*call, sender=executor)
    assert governed_market.operatorFeeBps() == 500


def test_the_timelock_rules_on_an_appealed_slash(
    deployers: dict[str, Any], token: Any, timelock: Any, operator: str, proposer: str, executor: str
) -> None:
    """The arbiter of ValidatorStaking can be the timelock: an appeal's ruling waits for its delay too."""
    # Prepare: staking administered by the timelock, an incident appealed
    treasury, validator = boa.env.generate_address("treasury"), boa.env.generate_address("v")
    with boa.env.prank(operator):
        staking = deployers["ValidatorStaking"].deploy(
            token.address, treasury, 7 * DAY, operator, timelock.address, DAY, 1000
        )
    token.mint(validator, 100 * UNIT)
    token.approve(staking.address, 100 * UNIT, sender=validator)
    staking.stake(100 * UNIT, sender=validator)
    evidence = b"\x05" * 32
    staking.recordIncident(validator, 10 * UNIT, evidence, sender=operator)
    staking.appeal(evidence, sender=validator)
    # Execute: the ruling goes through the timelock
    call = (staking.address, 0, staking.resolveAppeal.prepare_calldata(evidence, True), ZERO, SALT)
    timelock.schedule(*call, DELAY, sender=proposer)
    boa.env.time_travel(seconds=DELAY)
    timelock.execute(*call, sender=executor)
    # Assert
    assert token.balanceOf(treasury) == 10 * UNIT
    assert staking.incidents(evidence).state == 4  # EXECUTED
