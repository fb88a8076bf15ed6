"""The timelocked operator fee against a model, driven by a hypothesis state machine (issue 19).

LicenseMarket administered by the TimelockController (its former admin renounced). Random fee changes
scheduled by the proposer or by accounts without the role, with delays at and around the minimum,
executions and cancellations by every party, attempts to change the fee directly, and clock jumps.
Checked after every step: the fee on chain is the model's, which changes only when an executor runs a
change whose delay has passed; no other path changes it.

Examples: 30 by default (seconds, for CI); ``DATACOOP_HYPOTHESIS_PROFILE=thorough`` runs 1,000.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tests.contracts.conftest import DAY

DELAY = 2 * DAY
ZERO = bytes(32)
PARTIES = ["proposer", "executor", "admin", "operator"]
EXAMPLES = 1_000 if os.environ.get("DATACOOP_HYPOTHESIS_PROFILE") == "thorough" else 30


@dataclass
class Change:
    bps: int
    salt: bytes
    ready_at: int
    state: str = "pending"  # pending | done | cancelled


class TimelockMachine(RuleBasedStateMachine):
    market: ClassVar[Any]
    timelock: ClassVar[Any]
    accounts: ClassVar[dict[str, str]]

    def __init__(self) -> None:
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.fee = int(self.market.operatorFeeBps())
        self.changes: list[Change] = []

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    def _call(self, change: Change) -> tuple[Any, ...]:
        return (
            self.market.address,
            0,
            self.market.setOperatorFee.prepare_calldata(change.bps),
            ZERO,
            change.salt,
        )

    @rule(
        bps=st.integers(0, 1_500),
        extra=st.sampled_from([-1, 0, 1, DAY]),
        by=st.sampled_from(["proposer", "proposer", *PARTIES]),
    )
    def schedule(self, bps: int, extra: int, by: str) -> None:
        change = Change(bps, len(self.changes).to_bytes(32, "big"), boa.env.timestamp + DELAY + extra)
        args = (*self._call(change), DELAY + extra)
        if by != "proposer" or extra < 0:
            with pytest.raises(BoaError):
                self.timelock.schedule(*args, sender=self.accounts[by])
            return
        self.timelock.schedule(*args, sender=self.accounts[by])
        self.changes.append(change)

    @precondition(lambda self: self.changes)
    @rule(data=st.data(), by=st.sampled_from(["executor", "executor", *PARTIES]))
    def execute(self, data: Any, by: str) -> None:
        change = data.draw(st.sampled_from(self.changes))
        ready = change.state == "pending" and boa.env.timestamp >= change.ready_at
        # A fee above the market's cap makes the call, and so the execution, revert.
        if by != "executor" or not ready or change.bps > 1_000:
            with pytest.raises(BoaError):
                self.timelock.execute(*self._call(change), sender=self.accounts[by])
            return
        self.timelock.execute(*self._call(change), sender=self.accounts[by])
        change.state, self.fee = "done", change.bps

    @precondition(lambda self: self.changes)
    @rule(data=st.data(), by=st.sampled_from(["proposer", *PARTIES]))
    def cancel(self, data: Any, by: str) -> None:
        change = data.draw(st.sampled_from(self.changes))
        op = self.timelock.hash_operation(*self._call(change))
        if by != "proposer" or change.state != "pending":
            with pytest.raises(BoaError):
                self.timelock.cancel(op, sender=self.accounts[by])
            return
        self.timelock.cancel(op, sender=self.accounts[by])
        change.state = "cancelled"

    @rule(bps=st.integers(0, 1_000), by=st.sampled_from(PARTIES))
    def change_directly(self, bps: int, by: str) -> None:
        with pytest.raises(BoaError):
            self.market.setOperatorFee(bps, sender=self.accounts[by])

    @rule(seconds=st.one_of(st.sampled_from([DELAY - 1, DELAY, 1]), st.integers(1, 3 * DAY)))
    def warp(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    @invariant()
    def the_fee_is_the_last_executed_change(self) -> None:
        assert self.market.operatorFeeBps() == self.fee


def test_the_fee_changes_only_through_the_timelock_after_its_delay(
    deployers: dict[str, Any], market: Any, admin: str, operator: str
) -> None:
    accounts = {name: boa.env.generate_address(f"timelock-sm-{name}") for name in ("proposer", "executor")}
    accounts |= {"admin": admin, "operator": operator}
    with boa.env.prank(operator):
        timelock = deployers["TimelockController"].deploy(
            DELAY, [accounts["proposer"]], [accounts["executor"]], "0x" + "00" * 20
        )
    market.grantRole(market.DEFAULT_ADMIN_ROLE(), timelock.address, sender=admin)
    market.renounceRole(market.DEFAULT_ADMIN_ROLE(), admin, sender=admin)
    TimelockMachine.market, TimelockMachine.timelock, TimelockMachine.accounts = market, timelock, accounts
    run_state_machine_as_test(
        TimelockMachine, settings=settings(max_examples=EXAMPLES, stateful_step_count=20, deadline=None)
    )
