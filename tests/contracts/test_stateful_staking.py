"""ValidatorStaking against a model, driven by a hypothesis state machine (RELIABILITY D17, D18; issue 19).

Random stakes, unbonding requests, withdrawals, incidents (recorded by the operator, or attempted by
others), appeals, arbiter rulings, executions, attempts at the one-step slash of earlier versions, and
clock jumps, by several validators. Checked after every step:

- no slash without a recorded outcome: the old ``slash`` selector and unknown evidence always revert;
- never more than the cap per incident: ``maxSlashBps`` of the validator's stake when recorded, and
  never more than other open incidents leave;
- an appealed incident never executes before the arbiter rules, nor a pending one before its period;
- staked + unbonding + slashed + withdrawn == deposited, the contract holds staked + unbonding, the
  treasury holds every slashed token, and open incidents never hold more than a validator has.

Examples: 30 by default (seconds, for CI); ``DATACOOP_HYPOTHESIS_PROFILE=thorough`` runs 1,000.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from eth.exceptions import Revert
from eth_utils import function_signature_to_4byte_selector
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from tests.contracts.conftest import DAY

VALIDATORS = [boa.env.generate_address(f"staking-sm-{i}") for i in range(3)]
DELAY = 7 * DAY
APPEAL = 2 * DAY
MAX_BPS = 2_500
EXAMPLES = 1_000 if os.environ.get("DATACOOP_HYPOTHESIS_PROFILE") == "thorough" else 30
OLD_SLASH = function_signature_to_4byte_selector("slash(address,uint256,bytes32)")


@dataclass
class ValidatorModel:
    staked: int = 0
    unbonding: int = 0
    release_at: int = 0
    slashed: int = 0
    reserved: int = 0


@dataclass
class IncidentModel:
    validator: str
    amount: int
    appealable_until: int
    state: str = "pending"  # pending | appealed | executed | dismissed


class StakingMachine(RuleBasedStateMachine):
    staking: ClassVar[Any]
    token: ClassVar[Any]
    operator: ClassVar[str]
    admin: ClassVar[str]
    treasury: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.validators = {v: ValidatorModel() for v in VALIDATORS}
        self.incidents: dict[bytes, IncidentModel] = {}
        self.deposited = self.withdrawn = self.slashed = 0

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    def _refused(self, fn: Any, *args: Any, sender: str) -> None:
        with pytest.raises(BoaError):
            fn(*args, sender=sender)

    def _pick(self, data: Any, prefer: str = "pending") -> bytes:
        """An evidence hash: mostly one whose incident is in state ``prefer``, else any recorded one,
        else one never recorded."""
        preferred = sorted(e for e, i in self.incidents.items() if i.state == prefer)
        roll = data.draw(st.integers(0, 9))
        if roll >= 3 and preferred:
            return data.draw(st.sampled_from(preferred))
        if roll >= 1 and self.incidents:
            return data.draw(st.sampled_from(sorted(self.incidents)))
        return bytes(data.draw(st.binary(min_size=32, max_size=32)))

    def _slash(self, evidence: bytes) -> None:
        incident = self.incidents[evidence]
        model = self.validators[incident.validator]
        from_stake = min(incident.amount, model.staked)
        assert incident.amount - from_stake <= model.unbonding  # the hold is always there to take
        model.staked -= from_stake
        model.unbonding -= incident.amount - from_stake
        model.slashed += incident.amount
        model.reserved -= incident.amount
        self.slashed += incident.amount
        incident.state = "executed"

    @initialize(amounts=st.lists(st.integers(1, 10**24), min_size=len(VALIDATORS), max_size=len(VALIDATORS)))
    def stake_first(self, amounts: list[int]) -> None:
        """Every validator starts with a stake, so incidents have something to hold from the first step."""
        for validator, amount in zip(VALIDATORS, amounts, strict=True):
            self.stake(validator, amount)

    @rule(validator=st.sampled_from(VALIDATORS), amount=st.integers(0, 10**24))
    def stake(self, validator: str, amount: int) -> None:
        if amount == 0:
            return self._refused(self.staking.stake, amount, sender=validator)
        self.staking.stake(amount, sender=validator)
        self.validators[validator].staked += amount
        self.deposited += amount
        self._check(validator)

    @rule(validator=st.sampled_from(VALIDATORS), data=st.data())
    def request_unbond(self, validator: str, data: Any) -> None:
        model = self.validators[validator]
        amount = data.draw(st.integers(0, model.staked + 1))
        if not 0 < amount <= model.staked:
            return self._refused(self.staking.requestUnbond, amount, sender=validator)
        self.staking.requestUnbond(amount, sender=validator)
        model.staked -= amount
        model.unbonding += amount
        model.release_at = boa.env.timestamp + DELAY
        assert self.staking.validators(validator).unbondingReleaseAt == model.release_at
        self._check(validator)

    @rule(validator=st.sampled_from(VALIDATORS))
    def withdraw(self, validator: str) -> None:
        model = self.validators[validator]
        held = max(0, model.reserved - model.staked)
        if model.unbonding == 0 or boa.env.timestamp < model.release_at or model.unbonding == held:
            return self._refused(self.staking.withdraw, sender=validator)
        before = self.token.balanceOf(validator)
        self.staking.withdraw(sender=validator)
        assert self.token.balanceOf(validator) - before == model.unbonding - held
        self.withdrawn += model.unbonding - held
        event("withdrawn" + (" (part held by incidents)" if held else ""))
        model.unbonding = held
        self._check(validator)

    @rule(
        validator=st.sampled_from(VALIDATORS),
        amount=st.integers(0, 10**24),
        by=st.sampled_from(["operator", "operator", "operator", "admin", "validator"]),
        data=st.data(),
    )
    def record(self, validator: str, amount: int, by: str, data: Any) -> None:
        evidence = (
            self._pick(data) if data.draw(st.booleans()) else data.draw(st.binary(min_size=32, max_size=32))
        )
        sender = {"operator": self.operator, "admin": self.admin, "validator": validator}[by]
        model = self.validators[validator]
        slashable = model.staked + model.unbonding
        cap = slashable * MAX_BPS // 10_000
        held = min(amount, cap, slashable - model.reserved)
        refused = by != "operator" or amount == 0 or evidence == bytes(32) or evidence in self.incidents
        if refused or held == 0:
            return self._refused(self.staking.recordIncident, validator, amount, evidence, sender=sender)
        assert self.staking.recordIncident(validator, amount, evidence, sender=sender) == held
        assert held <= cap  # never more than the cap per incident
        self.incidents[evidence] = IncidentModel(validator, held, boa.env.timestamp + APPEAL)
        model.reserved += held
        event("incident recorded" + (" (capped)" if held < amount else ""))
        self._check(validator)

    @rule(data=st.data(), by_validator=st.booleans())
    def appeal(self, data: Any, by_validator: bool) -> None:
        evidence = self._pick(data)
        incident = self.incidents.get(evidence)
        if incident is None:
            return self._refused(self.staking.appeal, evidence, sender=VALIDATORS[0])
        sender = incident.validator if by_validator else self.operator
        in_time = boa.env.timestamp < incident.appealable_until
        if not (incident.state == "pending" and by_validator and in_time):
            return self._refused(self.staking.appeal, evidence, sender=sender)
        self.staking.appeal(evidence, sender=sender)
        incident.state = "appealed"
        event("incident appealed")
        assert self.staking.incidents(evidence).state == 2  # APPEALED

    @rule(data=st.data(), upheld=st.booleans(), by_admin=st.booleans())
    def resolve(self, data: Any, upheld: bool, by_admin: bool) -> None:
        evidence = self._pick(data, prefer="appealed")
        incident = self.incidents.get(evidence)
        sender = self.admin if by_admin else self.operator  # the operator is never the arbiter
        if not (incident and incident.state == "appealed" and by_admin):
            return self._refused(self.staking.resolveAppeal, evidence, upheld, sender=sender)
        self.staking.resolveAppeal(evidence, upheld, sender=sender)
        event(f"appeal ruled, upheld={upheld}")
        if upheld:
            self._slash(evidence)
        else:
            incident.state = "dismissed"
            self.validators[incident.validator].reserved -= incident.amount
        self._check(incident.validator)

    @rule(data=st.data())
    def execute(self, data: Any) -> None:
        evidence = self._pick(data)
        incident = self.incidents.get(evidence)
        # Appealed incidents, pending ones inside their period and unknown evidence never execute.
        if not (incident and incident.state == "pending" and boa.env.timestamp >= incident.appealable_until):
            return self._refused(self.staking.executeSlash, evidence, sender=self.operator)
        assert self.staking.executeSlash(evidence, sender=VALIDATORS[0]) == incident.amount
        self._slash(evidence)
        event("incident executed")
        self._check(incident.validator)

    @rule(validator=st.sampled_from(VALIDATORS), amount=st.integers(1, 10**24))
    def slash_without_an_outcome(self, validator: str, amount: int) -> None:
        calldata = OLD_SLASH + boa.util.abi.abi_encode(
            "(address,uint256,bytes32)", (validator, amount, b"\7" * 32)
        )
        with pytest.raises(Revert):
            boa.env.raw_call(self.staking.address, data=calldata, sender=self.operator)

    @rule(seconds=st.one_of(st.sampled_from([APPEAL - 1, APPEAL, DELAY]), st.integers(1, 4 * DAY)))
    def warp(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    def _check(self, validator: str) -> None:
        """After a change: the validator, the totals and the balances agree with the model."""
        model, chain = self.validators[validator], self.staking.validators(validator)
        assert (chain.staked, chain.unbonding, chain.slashed, chain.reserved) == (
            model.staked, model.unbonding, model.slashed, model.reserved,
        )  # fmt: skip
        staked = sum(v.staked for v in self.validators.values())
        unbonding = sum(v.unbonding for v in self.validators.values())
        totals = (
            self.staking.totalStaked(), self.staking.totalUnbonding(), self.staking.totalSlashed(),
            self.staking.totalWithdrawn(), self.staking.totalDeposited(),
        )  # fmt: skip
        assert totals == (staked, unbonding, self.slashed, self.withdrawn, self.deposited)
        assert self.token.balanceOf(self.staking.address) == staked + unbonding
        assert self.token.balanceOf(self.treasury) == self.slashed

    @invariant()
    def open_incidents_never_hold_more_than_a_validator_has(self) -> None:
        for address, model in self.validators.items():
            open_ = [i.amount for i in self.incidents.values()
                     if i.validator == address and i.state in ("pending", "appealed")]  # fmt: skip
            assert model.reserved == sum(open_) <= model.staked + model.unbonding

    @invariant()
    def tokens_are_conserved(self) -> None:
        staked = sum(v.staked for v in self.validators.values())
        unbonding = sum(v.unbonding for v in self.validators.values())
        assert staked + unbonding + self.slashed + self.withdrawn == self.deposited
        assert all(v.staked >= 0 and v.unbonding >= 0 for v in self.validators.values())


@pytest.mark.timeout(1800)  # 1,000 examples (thorough) in the in-process EVM: minutes beside other workers
def test_staking_conserves_tokens_and_slashes_only_recorded_outcomes(
    deployers: dict[str, Any], token: Any, admin: str, operator: str
) -> None:
    treasury = boa.env.generate_address("staking-sm-treasury")
    with boa.env.prank(operator):
        staking = deployers["ValidatorStaking"].deploy(
            token.address, treasury, DELAY, operator, admin, APPEAL, MAX_BPS
        )
    for validator in VALIDATORS:
        token.mint(validator, 10**30)
        token.approve(staking.address, 2**256 - 1, sender=validator)
    StakingMachine.staking, StakingMachine.token = staking, token
    StakingMachine.operator, StakingMachine.admin, StakingMachine.treasury = operator, admin, treasury
    run_state_machine_as_test(
        StakingMachine, settings=settings(max_examples=EXAMPLES, stateful_step_count=20, deadline=None)
    )
