"""ValidatorStaking: stake, unbond, withdraw; slashing only by a recorded incident (RELIABILITY D17, D18).

A slash is an incident the operator records (capped at ``maxSlashBps`` of the validator's stake), open to
the validator's appeal for ``appealPeriod``, executed by anyone afterwards or ruled on by the arbiter
(the admin) when appealed. Issue 19: "a slash without a recorded outcome reverts".
"""

from __future__ import annotations

from typing import Any

import boa
import pytest
from eth.exceptions import Revert
from eth_utils import function_signature_to_4byte_selector
from tests.contracts.conftest import DAY, UNIT

REASON = b"\x42" * 32
OTHER = b"\x43" * 32
APPEAL = 2 * DAY
MAX_BPS = 5_000  # half the stake per incident


@pytest.fixture
def treasury() -> str:
    return boa.env.generate_address("treasury")


def deploy(deployers: dict[str, Any], token: str, treasury: str, operator: str, admin: str, **kw: Any) -> Any:
    """ValidatorStaking deployed by the operator's key (as the node does), naming ``admin``."""
    args = {"delay": 7 * DAY, "appeal": APPEAL, "bps": MAX_BPS} | kw
    with boa.env.prank(operator):
        return deployers["ValidatorStaking"].deploy(
            token, treasury, args["delay"], operator, admin, args["appeal"], args["bps"]
        )


@pytest.fixture
def staking(deployers: dict[str, Any], token: Any, treasury: str, admin: str, operator: str) -> Any:
    return deploy(deployers, token.address, treasury, operator, admin)


@pytest.fixture
def validator(token: Any, staking: Any) -> str:
    account = boa.env.generate_address("validator")
    token.mint(account, 1000 * UNIT)
    token.approve(staking.address, 2**256 - 1, sender=account)
    return account


def assert_conserved(staking: Any, token: Any, *validators: str) -> None:
    """RELIABILITY D18: staked + unbonding + slashed + withdrawn == deposited; the balance backs it."""
    assert (
        staking.totalStaked() + staking.totalUnbonding() + staking.totalSlashed() + staking.totalWithdrawn()
        == staking.totalDeposited()
    )
    assert token.balanceOf(staking.address) == staking.totalStaked() + staking.totalUnbonding()
    for v in validators:
        record = staking.validators(v)
        assert record.reserved <= record.staked + record.unbonding


def events(contract: Any, name: str) -> list[Any]:
    return [log for log in contract.get_logs() if type(log).__name__ == name]


def record(staking: Any, validator: str, amount: int, operator: str, evidence: bytes = REASON) -> int:
    return int(staking.recordIncident(validator, amount, evidence, sender=operator))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"delay": DAY - 1}, "unbonding delay too short"),
        ({"delay": 365 * DAY + 1}, "unbonding delay too long"),
        ({"appeal": DAY - 1}, "appeal period too short"),
        ({"appeal": 30 * DAY + 1}, "appeal period too long"),
        ({"bps": 0}, "max slash is zero"),
        ({"bps": 10_001}, "max slash above 100%"),
    ],
)
def test_deployment_parameters_are_bounded(
    deployers: dict[str, Any],
    token: Any,
    treasury: str,
    operator: str,
    admin: str,
    kw: dict[str, int],
    message: str,
) -> None:
    """RELIABILITY D17: no delay of (almost) nothing, no appeal window too short, no cap above 100 %."""
    with boa.reverts(f"ValidatorStaking: {message}"):
        deploy(deployers, token.address, treasury, operator, admin, **kw)


@pytest.mark.parametrize("which", ["token", "treasury", "operator", "admin"])
def test_zero_addresses_are_refused_at_deployment(
    deployers: dict[str, Any], token: Any, treasury: str, operator: str, admin: str, which: str
) -> None:
    zero = "0x" + "00" * 20
    args = {"token": token.address, "treasury": treasury, "operator": operator, "admin": admin, which: zero}
    with boa.reverts(f"ValidatorStaking: {which} is zero"):
        deployers["ValidatorStaking"].deploy(
            args["token"], args["treasury"], DAY, args["operator"], args["admin"], DAY, MAX_BPS
        )


def test_the_treasury_cannot_be_the_operator(
    deployers: dict[str, Any], token: Any, operator: str, admin: str
) -> None:
    with boa.reverts("ValidatorStaking: treasury is the operator"):
        deploy(deployers, token.address, operator, operator, admin)


def test_the_admin_and_arbiter_is_not_the_deploying_operator(staking: Any, admin: str, operator: str) -> None:
    admin_role, arbiter, op = staking.DEFAULT_ADMIN_ROLE(), staking.ARBITER_ROLE(), staking.OPERATOR_ROLE()
    assert staking.hasRole(admin_role, admin) and staking.hasRole(arbiter, admin)
    assert not staking.hasRole(op, admin)
    assert staking.hasRole(op, operator)
    assert not staking.hasRole(admin_role, operator) and not staking.hasRole(arbiter, operator)


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
    record_ = staking.validators(validator)
    assert (record_.staked, record_.unbonding, record_.slashed) == (60 * UNIT, 40 * UNIT, 0)
    assert staking.slashable(validator) == 100 * UNIT
    boa.env.time_travel(seconds=7 * DAY - 1)
    with boa.reverts("ValidatorStaking: still unbonding"):
        staking.withdraw(sender=validator)
    boa.env.time_travel(seconds=1)
    staking.withdraw(sender=validator)
    assert token.balanceOf(validator) == 940 * UNIT
    assert staking.validators(validator).unbonding == 0
    assert_conserved(staking, token, validator)


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
    deployers: dict[str, Any], treasury: str, operator: str, admin: str
) -> None:
    fee_token = deployers["FeeOnTransferToken"].deploy()
    staking = deploy(deployers, fee_token.address, treasury, operator, admin)
    account = boa.env.generate_address()
    fee_token.mint(account, 1000)
    fee_token.approve(staking.address, 1000, sender=account)
    staking.stake(1000, sender=account)
    assert staking.validators(account).staked == 990 == fee_token.balanceOf(staking.address)


def test_a_slash_without_a_recorded_outcome_reverts(
    staking: Any, validator: str, operator: str, admin: str
) -> None:
    """Issue 19: no key, the operator's included, can slash without a recorded incident."""
    staking.stake(100 * UNIT, sender=validator)
    with boa.reverts("ValidatorStaking: no such incident"):
        staking.executeSlash(REASON, sender=operator)
    with boa.reverts("ValidatorStaking: incident not appealed"):
        staking.resolveAppeal(REASON, True, sender=admin)
    # The one-step slash of earlier versions is gone: its selector reaches no function.
    selector = function_signature_to_4byte_selector("slash(address,uint256,bytes32)")
    calldata = selector + boa.util.abi.abi_encode("(address,uint256,bytes32)", (validator, UNIT, REASON))
    with pytest.raises(Revert):
        boa.env.raw_call(staking.address, data=calldata, sender=operator)
    assert staking.validators(validator).staked == 100 * UNIT and staking.totalSlashed() == 0


def test_an_unappealed_incident_is_slashed_after_the_appeal_period(
    staking: Any, token: Any, validator: str, operator: str, treasury: str, stranger: str
) -> None:
    # Prepare
    staking.stake(100 * UNIT, sender=validator)
    staking.requestUnbond(70 * UNIT, sender=validator)
    # Execute: record 40 (under the cap of 50)
    assert record(staking, validator, 40 * UNIT, operator) == 40 * UNIT
    (recorded,) = events(staking, "IncidentRecorded")
    # Assert
    assert (recorded.evidenceHash, recorded.validator, recorded.amount) == (REASON, validator, 40 * UNIT)
    assert recorded.appealableUntil == boa.env.timestamp + APPEAL
    incident = staking.incidents(REASON)
    assert (incident.validator, incident.amount, incident.state) == (validator, 40 * UNIT, 1)  # PENDING
    assert staking.validators(validator).reserved == 40 * UNIT
    boa.env.time_travel(seconds=APPEAL - 1)
    with boa.reverts("ValidatorStaking: appeal period not over"):
        staking.executeSlash(REASON, sender=stranger)
    boa.env.time_travel(seconds=1)
    assert staking.executeSlash(REASON, sender=stranger) == 40 * UNIT  # anyone may execute it
    (slashed,) = events(staking, "Slashed")
    assert (slashed.validator, slashed.reasonHash, slashed.amount) == (validator, REASON, 40 * UNIT)
    assert (slashed.fromStake, slashed.fromUnbonding) == (30 * UNIT, 10 * UNIT)
    v = staking.validators(validator)
    assert (v.staked, v.unbonding, v.slashed, v.reserved) == (0, 60 * UNIT, 40 * UNIT, 0)
    assert token.balanceOf(treasury) == 40 * UNIT
    assert staking.incidents(REASON).state == 4  # EXECUTED
    with boa.reverts("ValidatorStaking: incident not pending"):
        staking.executeSlash(REASON, sender=stranger)
    assert_conserved(staking, token, validator)


def test_each_incident_is_capped_and_recorded_once(
    staking: Any, token: Any, validator: str, operator: str
) -> None:
    staking.stake(100 * UNIT, sender=validator)
    assert staking.slashCap(validator) == 50 * UNIT
    assert record(staking, validator, 500 * UNIT, operator) == 50 * UNIT  # at most maxSlashBps of the stake
    with boa.reverts("ValidatorStaking: incident already recorded"):
        record(staking, validator, UNIT, operator)
    assert record(staking, validator, 500 * UNIT, operator, OTHER) == 50 * UNIT
    assert staking.slashCap(validator) == 0  # everything is held by open incidents
    with boa.reverts("ValidatorStaking: nothing to slash"):
        record(staking, validator, 1, operator, b"\x44" * 32)
    boa.env.time_travel(seconds=APPEAL)
    assert staking.executeSlash(REASON) + staking.executeSlash(OTHER) == 100 * UNIT
    assert_conserved(staking, token, validator)


def test_only_the_operator_records_with_evidence_and_an_amount(
    staking: Any, validator: str, operator: str, admin: str
) -> None:
    staking.stake(50 * UNIT, sender=validator)
    for caller in (admin, validator):
        with boa.reverts("access_control: account is missing role"):
            record(staking, validator, 1, caller)
    with boa.reverts("ValidatorStaking: evidence is zero"):
        record(staking, validator, 1, operator, b"\0" * 32)
    with boa.reverts("ValidatorStaking: amount is zero"):
        record(staking, validator, 0, operator)
    with boa.reverts("ValidatorStaking: nothing to slash"):
        record(staking, boa.env.generate_address(), 1, operator)


def test_an_appealed_incident_waits_for_the_arbiter(
    staking: Any, token: Any, validator: str, operator: str, admin: str, stranger: str, treasury: str
) -> None:
    # Prepare: an incident, appealed by its validator within the period
    staking.stake(100 * UNIT, sender=validator)
    record(staking, validator, 30 * UNIT, operator)
    with boa.reverts("ValidatorStaking: not the incident's validator"):
        staking.appeal(REASON, sender=stranger)
    staking.appeal(REASON, sender=validator)
    (appealed,) = events(staking, "IncidentAppealed")
    assert (appealed.evidenceHash, appealed.validator) == (REASON, validator)
    # Execute / Assert: frozen past its appeal period; the operator cannot rule, the arbiter does
    boa.env.time_travel(seconds=10 * APPEAL)
    with boa.reverts("ValidatorStaking: incident not pending"):
        staking.executeSlash(REASON, sender=stranger)
    with boa.reverts("access_control: account is missing role"):
        staking.resolveAppeal(REASON, True, sender=operator)
    assert staking.resolveAppeal(REASON, True, sender=admin) == 30 * UNIT
    assert token.balanceOf(treasury) == 30 * UNIT
    assert [e.upheld for e in events(staking, "AppealResolved")] == [True]
    with boa.reverts("ValidatorStaking: incident not appealed"):
        staking.resolveAppeal(REASON, False, sender=admin)
    assert_conserved(staking, token, validator)


def test_a_dismissed_appeal_releases_the_stake(
    staking: Any, token: Any, validator: str, operator: str, admin: str
) -> None:
    staking.stake(100 * UNIT, sender=validator)
    record(staking, validator, 50 * UNIT, operator)
    staking.appeal(REASON, sender=validator)
    assert staking.resolveAppeal(REASON, False, sender=admin) == 0
    assert staking.incidents(REASON).state == 8  # DISMISSED
    v = staking.validators(validator)
    assert (v.staked, v.reserved, v.slashed) == (100 * UNIT, 0, 0)
    with boa.reverts("ValidatorStaking: incident not pending"):
        staking.executeSlash(REASON)
    assert token.balanceOf(staking.address) == 100 * UNIT


def test_an_appeal_after_the_period_is_refused(staking: Any, validator: str, operator: str) -> None:
    staking.stake(100 * UNIT, sender=validator)
    record(staking, validator, 10 * UNIT, operator)
    boa.env.time_travel(seconds=APPEAL)
    with boa.reverts("ValidatorStaking: appeal period over"):
        staking.appeal(REASON, sender=validator)


def test_unbonding_does_not_escape_a_recorded_incident(
    staking: Any, token: Any, validator: str, operator: str
) -> None:
    """RELIABILITY D17: what an open incident holds stays in the contract, whatever the validator does."""
    # Prepare: everything unbonding, half of it held by an appealed incident
    staking.stake(100 * UNIT, sender=validator)
    record(staking, validator, 50 * UNIT, operator)
    staking.appeal(REASON, sender=validator)
    staking.requestUnbond(100 * UNIT, sender=validator)
    # Execute: withdraw after the delay
    boa.env.time_travel(seconds=7 * DAY)
    staking.withdraw(sender=validator)
    # Assert: only the free half left; the held half cannot be withdrawn until the ruling
    assert token.balanceOf(validator) == 950 * UNIT
    assert staking.validators(validator).unbonding == 50 * UNIT
    with boa.reverts("ValidatorStaking: unbonding held by open incidents"):
        staking.withdraw(sender=validator)
    assert_conserved(staking, token, validator)


def test_withdrawn_stake_is_no_longer_slashable(staking: Any, validator: str, operator: str) -> None:
    staking.stake(50 * UNIT, sender=validator)
    staking.requestUnbond(50 * UNIT, sender=validator)
    boa.env.time_travel(seconds=7 * DAY)
    staking.withdraw(sender=validator)
    with boa.reverts("ValidatorStaking: nothing to slash"):
        record(staking, validator, 1, operator)


def test_a_withdrawal_reentered_from_the_token_pays_once(
    deployers: dict[str, Any], treasury: str, operator: str, admin: str
) -> None:
    hostile = deployers["ReentrantToken"].deploy()
    staking = deploy(deployers, hostile.address, treasury, operator, admin, delay=DAY)
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
