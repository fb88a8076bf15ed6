"""ValidatorStaking against a model, driven by a hypothesis state machine (RELIABILITY D17, D18).

Random stakes, unbonding requests, withdrawals, slashes and clock jumps by several
validators. After every step: staked + unbonding + slashed + withdrawn == deposited, the
contract's balance is staked + unbonding, the treasury holds every slashed token, a slash
never takes more than staked + unbonding, and unbonding stays slashable until withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from tests.contracts.conftest import DAY

VALIDATORS = [boa.env.generate_address(f"staking-sm-{i}") for i in range(3)]
DELAY = 7 * DAY
REASON = b"\x07" * 32


@dataclass
class ValidatorModel:
    staked: int = 0
    unbonding: int = 0
    release_at: int = 0
    slashed: int = 0


class StakingMachine(RuleBasedStateMachine):
    staking: ClassVar[Any]
    token: ClassVar[Any]
    operator: ClassVar[str]
    treasury: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.validators = {v: ValidatorModel() for v in VALIDATORS}
        self.deposited = self.withdrawn = self.slashed = 0

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    def _check(self, validator: str) -> None:
        """After a change: the validator, the totals and the balances agree with the model."""
        model, chain = self.validators[validator], self.staking.validators(validator)
        assert (chain.staked, chain.unbonding, chain.slashed) == (
            model.staked,
            model.unbonding,
            model.slashed,
        )
        if model.unbonding:
            assert chain.unbondingReleaseAt == model.release_at
        staked = sum(v.staked for v in self.validators.values())
        unbonding = sum(v.unbonding for v in self.validators.values())
        totals = (
            self.staking.totalStaked(),
            self.staking.totalUnbonding(),
            self.staking.totalSlashed(),
            self.staking.totalWithdrawn(),
            self.staking.totalDeposited(),
        )
        assert totals == (staked, unbonding, self.slashed, self.withdrawn, self.deposited)
        assert self.token.balanceOf(self.staking.address) == staked + unbonding
        assert self.token.balanceOf(self.treasury) == self.slashed

    @rule(validator=st.sampled_from(VALIDATORS), amount=st.integers(0, 10**24))
    def stake(self, validator: str, amount: int) -> None:
        if amount == 0:
            with pytest.raises(BoaError):
                self.staking.stake(amount, sender=validator)
            return
        self.staking.stake(amount, sender=validator)
        self.validators[validator].staked += amount
        self.deposited += amount
        self._check(validator)

    @rule(validator=st.sampled_from(VALIDATORS), data=st.data())
    def request_unbond(self, validator: str, data: Any) -> None:
        model = self.validators[validator]
        amount = data.draw(st.integers(0, model.staked + 1))
        if not 0 < amount <= model.staked:
            with pytest.raises(BoaError):
                self.staking.requestUnbond(amount, sender=validator)
            return
        self.staking.requestUnbond(amount, sender=validator)
        model.staked -= amount
        model.unbonding += amount
        model.release_at = boa.env.timestamp + DELAY
        self._check(validator)

    @rule(validator=st.sampled_from(VALIDATORS))
    def withdraw(self, validator: str) -> None:
        model = self.validators[validator]
        if model.unbonding == 0 or boa.env.timestamp < model.release_at:
            with pytest.raises(BoaError):
                self.staking.withdraw(sender=validator)
            return
        before = self.token.balanceOf(validator)
        self.staking.withdraw(sender=validator)
        assert self.token.balanceOf(validator) - before == model.unbonding
        self.withdrawn += model.unbonding
        model.unbonding = 0
        self._check(validator)

    @rule(validator=st.sampled_from(VALIDATORS), amount=st.integers(1, 2 * 10**24))
    def slash(self, validator: str, amount: int) -> None:
        model = self.validators[validator]
        slashable = model.staked + model.unbonding
        if slashable == 0:
            with pytest.raises(BoaError):
                self.staking.slash(validator, amount, REASON, sender=self.operator)
            return
        taken = self.staking.slash(validator, amount, REASON, sender=self.operator)
        assert taken == min(amount, slashable)
        from_stake = min(amount, model.staked)
        model.staked -= from_stake
        model.unbonding -= taken - from_stake
        model.slashed += taken
        self.slashed += taken
        self._check(validator)

    @rule(seconds=st.integers(1, 4 * DAY))
    def warp(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    @invariant()
    def tokens_are_conserved(self) -> None:
        staked = sum(v.staked for v in self.validators.values())
        unbonding = sum(v.unbonding for v in self.validators.values())
        assert staked + unbonding + self.slashed + self.withdrawn == self.deposited
        assert all(v.staked >= 0 and v.unbonding >= 0 for v in self.validators.values())


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 1,000 examples in the in-process EVM: minutes, more beside other workers
def test_staking_conserves_tokens(deployers: dict[str, Any], token: Any, admin: str, operator: str) -> None:
    treasury = boa.env.generate_address("staking-sm-treasury")
    with boa.env.prank(admin):
        staking = deployers["ValidatorStaking"].deploy(token.address, treasury, DELAY, operator)
    for validator in VALIDATORS:
        token.mint(validator, 10**30)
        token.approve(staking.address, 2**256 - 1, sender=validator)
    StakingMachine.staking, StakingMachine.token = staking, token
    StakingMachine.operator, StakingMachine.treasury = operator, treasury
    run_state_machine_as_test(
        StakingMachine, settings=settings(max_examples=1000, stateful_step_count=20, deadline=None)
    )
