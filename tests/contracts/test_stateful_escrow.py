"""TaskEscrow and its per-task vaults against a model, driven by a hypothesis state machine
(RELIABILITY A2, A5, B7, B8, B10).

Random tasks, top-ups, epochs (some with a faulty total below the sum of their leaves), claims
(honest, stale, forged), refunds and clock jumps. After every step:

- per task: paid <= funded and total <= funded, and the chain agrees with the model (a faulty
  root may pay past its total, but only from its own task's vault, never past the funding);
- no account is ever paid more than its latest cumulative entitlement;
- wrong proofs, accounts, amounts and superseded roots revert;
- after a refund nothing more is paid;
- each task's vault holds exactly what that task still holds, and the factory holds nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
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
from tests.contracts.tree import Tree, build_tree

ACCOUNTS = [boa.env.generate_address(f"escrow-sm-{i}") for i in range(5)]
MAX_TASKS = 3
# 1,000 in CI; DATACOOP_ESCROW_EXAMPLES=50 for a quick local run.
EXAMPLES = int(os.environ.get("DATACOOP_ESCROW_EXAMPLES", "1000"))


@dataclass
class TaskModel:
    funded: int
    deadline: int
    closes: int
    total: int = 0
    paid: int = 0
    epoch: int = 0
    refunded: bool = False
    refund_amount: int = 0
    entitled: dict[str, int] = field(default_factory=dict)
    claimed: dict[str, int] = field(default_factory=dict)
    trees: list[tuple[Tree, dict[str, int]]] = field(default_factory=list)


class EscrowMachine(RuleBasedStateMachine):
    escrow: ClassVar[Any]
    token: ClassVar[Any]
    requester: ClassVar[str]
    operator: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.tasks: dict[int, TaskModel] = {}

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    # ---- helpers

    def _expect(self, ok: bool, call: Any) -> bool:
        if ok:
            call()
            return True
        with pytest.raises(BoaError):
            call()
        return False

    def _check(self, task_id: int) -> None:
        model, chain = self.tasks[task_id], self.escrow.tasks(task_id)
        assert chain.paid <= chain.funded and chain.total <= chain.funded
        assert (chain.funded, chain.total, chain.paid, chain.epoch, chain.refunded) == (
            model.funded,
            model.total,
            model.paid,
            model.epoch,
            model.refunded,
        )

    def _pick(self, data: Any, with_tree: bool = False) -> tuple[int, TaskModel]:
        ids = [i for i, t in self.tasks.items() if t.trees or not with_tree]
        task_id = data.draw(st.sampled_from(sorted(ids)))
        return task_id, self.tasks[task_id]

    def _has_trees(self) -> bool:
        return any(t.trees for t in self.tasks.values())

    # ---- rules

    @precondition(lambda self: len(self.tasks) < MAX_TASKS)
    @rule(
        amount=st.integers(10**3, 10**6),
        deadline_in=st.integers(1, 2 * DAY),
        window=st.integers(DAY, 2 * DAY),
    )
    def open_task(self, amount: int, deadline_in: int, window: int) -> None:
        deadline = boa.env.timestamp + deadline_in
        task_id = self.escrow.openTask(self.token.address, amount, deadline, window, sender=self.requester)
        assert task_id == len(self.tasks) + 1
        self.tasks[task_id] = TaskModel(funded=amount, deadline=deadline, closes=deadline + window)
        self._check(task_id)

    @precondition(lambda self: self.tasks)
    @rule(data=st.data(), amount=st.integers(1, 10**5))
    def top_up(self, data: Any, amount: int) -> None:
        task_id, model = self._pick(data)
        ok = boa.env.timestamp < model.deadline
        if self._expect(ok, lambda: self.escrow.topUp(task_id, amount, sender=self.requester)):
            model.funded += amount
        self._check(task_id)

    @precondition(lambda self: self.tasks)
    @rule(
        data=st.data(),
        increments=st.lists(st.integers(0, 2000), min_size=len(ACCOUNTS), max_size=len(ACCOUNTS)),
        shortfall=st.integers(0, 3000),
    )
    def post_epoch(self, data: Any, increments: list[int], shortfall: int) -> None:
        """The next epoch's cumulative entitlements; a shortfall > 0 posts a total below the leaves' sum."""
        task_id, model = self._pick(data)
        entitled = {a: model.entitled.get(a, 0) + inc for a, inc in zip(ACCOUNTS, increments, strict=True)}
        values = {a: v for a, v in entitled.items() if v > 0}
        if not values:
            return
        tree = build_tree(list(values.items()))
        total = max(model.total, sum(values.values()) - shortfall)
        ok = total <= model.funded and boa.env.timestamp <= model.closes and not model.refunded
        call = partial(self.escrow.postRoot, task_id, model.epoch + 1, tree.root, total, sender=self.operator)
        if self._expect(ok, call):
            model.epoch += 1
            model.total = total
            model.entitled = values
            model.trees.append((tree, values))
        self._check(task_id)

    @precondition(_has_trees)
    @rule(data=st.data())
    def claim(self, data: Any) -> None:
        task_id, model = self._pick(data, with_tree=True)
        tree, values = model.trees[-1]
        account = data.draw(st.sampled_from(sorted(values)))
        cumulative, already = values[account], model.claimed.get(account, 0)
        owed = cumulative - already
        # No cap at the posted total: the vault pays from what it holds (funded - paid).
        ok = owed > 0 and boa.env.timestamp <= model.closes and owed <= model.funded - model.paid
        before = self.token.balanceOf(account)
        proof = tree.proof(account, cumulative)
        if self._expect(ok, lambda: self.escrow.claim(task_id, account, cumulative, proof)):
            model.claimed[account] = cumulative
            model.paid += owed
        assert self.token.balanceOf(account) - before == (owed if ok else 0)
        assert (
            self.escrow.claimed(task_id, account) == model.claimed.get(account, 0) <= model.entitled[account]
        )
        self._check(task_id)

    @precondition(_has_trees)
    @rule(data=st.data())
    def claim_with_a_superseded_proof(self, data: Any) -> None:
        task_id, model = self._pick(data, with_tree=True)
        tree, values = data.draw(st.sampled_from(model.trees))
        account = data.draw(st.sampled_from(sorted(values)))
        if values.get(account) == model.entitled.get(account) and tree.root == model.trees[-1][0].root:
            return  # that is the current entitlement: covered by `claim`
        with pytest.raises(BoaError):
            self.escrow.claim(task_id, account, values[account], tree.proof(account, values[account]))
        self._check(task_id)

    @precondition(_has_trees)
    @rule(
        data=st.data(), kind=st.sampled_from(["more", "less", "account", "proof"]), delta=st.integers(1, 100)
    )
    def claim_forged(self, data: Any, kind: str, delta: int) -> None:
        task_id, model = self._pick(data, with_tree=True)
        tree, values = model.trees[-1]
        account = data.draw(st.sampled_from(sorted(values)))
        amount, proof, target = values[account], tree.proof(account, values[account]), account
        if kind == "more":
            amount += delta
        elif kind == "less":
            amount = max(0, amount - delta)
        elif kind == "account":
            target = data.draw(st.sampled_from([a for a in ACCOUNTS if a != account]))
        elif proof:
            proof[0] = bytes([proof[0][0] ^ 0x80]) + proof[0][1:]
        else:
            proof = [b"\x01" * 32]
        with pytest.raises(BoaError):
            self.escrow.claim(task_id, target, amount, proof)
        self._check(task_id)

    @rule(seconds=st.integers(1, 3 * DAY))
    def warp(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def refund(self, data: Any) -> None:
        task_id, model = self._pick(data)
        ok = boa.env.timestamp > model.closes and not model.refunded
        before = self.token.balanceOf(self.requester)
        if self._expect(ok, lambda: self.escrow.refund(task_id, sender=self.requester)):
            model.refunded = True
            model.refund_amount = model.funded - model.paid
        assert self.token.balanceOf(self.requester) - before == (model.refund_amount if ok else 0)
        self._check(task_id)

    # ---- invariants

    @invariant()
    def each_vault_holds_exactly_what_its_task_still_holds(self) -> None:
        for task_id, t in self.tasks.items():
            assert self.escrow.held(task_id, self.token) == t.funded - t.paid - t.refund_amount
        assert self.token.balanceOf(self.escrow.address) == 0

    @invariant()
    def nothing_is_paid_beyond_entitlements(self) -> None:
        for model in self.tasks.values():
            assert model.paid == sum(model.claimed.values()) <= model.funded
            assert model.total <= model.funded
            assert all(model.claimed[a] <= model.entitled.get(a, 0) for a in model.claimed)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 1,000 examples in the in-process EVM: minutes, more beside other workers
def test_the_escrow_keeps_its_invariants(
    escrow: Any, token: Any, funded_requester: str, operator: str
) -> None:
    EscrowMachine.escrow, EscrowMachine.token = escrow, token
    EscrowMachine.requester, EscrowMachine.operator = funded_requester, operator
    run_state_machine_as_test(
        EscrowMachine,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=16, deadline=None),
    )
