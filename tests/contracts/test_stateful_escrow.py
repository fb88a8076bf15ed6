"""TaskEscrow and its per-task vaults against a model, driven by a hypothesis state machine
(RELIABILITY A2, A5, B7, B8, B10).

Random tasks (each with a reward per item and a challenge window of 0 or an hour), top-ups, epochs
(some with a faulty total below the sum of their leaves, some raising the total beyond accepted
items x reward), disputes, claims (honest, stale, forged, gasless with a relayer fee, replayed),
refunds and clock jumps. After every step:

- per task: paid <= funded and total <= funded, and the chain agrees with the model (a faulty
  root may pay past its total, but only from its own task's vault, never past the funding);
- a root raising the total beyond accepted items x reward reverts;
- only the claimable root pays: the newest one past its window and not disputed; a disputed
  root never pays, a root in its window not yet;
- no account is ever paid more than its claimable cumulative entitlement;
- wrong proofs, accounts, amounts and superseded roots revert; a gasless claim pays the account
  and the relayer exactly, and its replay pays nothing;
- after a refund nothing more is paid;
- each task's vault holds exactly what that task still holds, and the factory holds nothing.

Examples: 30 by default (CI); ``DATACOOP_HYPOTHESIS_PROFILE=thorough`` runs 1,000
(``DATACOOP_ESCROW_EXAMPLES`` sets any other number).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from eth_account import Account
from eth_utils.crypto import keccak
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

from datacoop.chain.gasless import MAX_RELAYER_FEE_BPS, ClaimAuthorisation, SignedClaim

KEYS = [Account.from_key(keccak(f"escrow-sm-{i}".encode())) for i in range(5)]  # they sign gasless claims
ACCOUNTS = [k.address for k in KEYS]
RELAYER = boa.env.generate_address("escrow-sm-relayer")
MAX_TASKS = 3
HOUR = 3_600
_DEFAULT = "1000" if os.environ.get("DATACOOP_HYPOTHESIS_PROFILE") == "thorough" else "30"
EXAMPLES = int(os.environ.get("DATACOOP_ESCROW_EXAMPLES", _DEFAULT))


@dataclass
class Root:
    tree: Tree
    values: dict[str, int]
    ready_at: int
    frozen: bool = False


@dataclass
class TaskModel:
    funded: int
    deadline: int
    closes: int
    reward: int
    challenge: int
    total: int = 0
    base_total: int = 0  # the total before the latest root: a dispute restores it
    paid: int = 0
    epoch: int = 0
    refunded: bool = False
    refund_amount: int = 0
    entitled: dict[str, int] = field(default_factory=dict)  # the latest posted root's values
    claimed: dict[str, int] = field(default_factory=dict)
    trees: list[tuple[Tree, dict[str, int]]] = field(default_factory=list)
    latest: Root | None = None
    settled: Root | None = None

    def claimable(self) -> Root | None:
        """The root the vault pays now: the latest once past its window and not disputed, else the settled."""
        latest = self.latest
        if latest is not None and not latest.frozen and boa.env.timestamp >= latest.ready_at:
            return latest
        return self.settled


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
        ids = [i for i, t in self.tasks.items() if t.claimable() is not None or not with_tree]
        task_id = data.draw(st.sampled_from(sorted(ids)))
        return task_id, self.tasks[task_id]

    def _has_trees(self) -> bool:
        return any(t.claimable() is not None for t in self.tasks.values())

    # ---- rules

    @precondition(lambda self: len(self.tasks) < MAX_TASKS)
    @rule(
        amount=st.integers(10**3, 10**6),
        deadline_in=st.integers(1, 2 * DAY),
        window=st.integers(DAY, 2 * DAY),
        reward=st.integers(1, 3000),
        challenge=st.sampled_from([0, HOUR]),
    )
    def open_task(self, amount: int, deadline_in: int, window: int, reward: int, challenge: int) -> None:
        deadline = boa.env.timestamp + deadline_in
        task_id = self.escrow.openTask(
            self.token.address, amount, deadline, window, reward, challenge, sender=self.requester
        )
        assert task_id == len(self.tasks) + 1
        self.tasks[task_id] = TaskModel(amount, deadline, deadline + window, reward, challenge)
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
        accepted=st.integers(0, 6),
    )
    def post_epoch(self, data: Any, increments: list[int], shortfall: int, accepted: int) -> None:
        """The next epoch's cumulative entitlements; a shortfall > 0 posts a total below the leaves' sum."""
        task_id, model = self._pick(data)
        entitled = {a: model.entitled.get(a, 0) + inc for a, inc in zip(ACCOUNTS, increments, strict=True)}
        values = {a: v for a, v in entitled.items() if v > 0}
        if not values:
            return
        tree = build_tree(list(values.items()))
        total = max(model.total, sum(values.values()) - shortfall)
        now = boa.env.timestamp
        ok = (
            total <= model.funded
            and total - model.total <= accepted * model.reward
            and now + model.challenge <= model.closes
            and not model.refunded
        )
        call = partial(
            self.escrow.postRoot, task_id, model.epoch + 1, tree.root, total, accepted, sender=self.operator
        )
        if self._expect(ok, call):
            model.settled = model.claimable()  # a ready, undisputed latest root is promoted
            model.latest = Root(tree, values, now + model.challenge)
            model.epoch += 1
            model.base_total, model.total = model.total, total
            model.entitled = values
            model.trees.append((tree, values))
        self._check(task_id)

    @precondition(lambda self: self.tasks)
    @rule(data=st.data())
    def dispute(self, data: Any) -> None:
        """The requester disputes the latest root: only in its window, once."""
        task_id, model = self._pick(data)
        latest = model.latest
        ok = latest is not None and not latest.frozen and boa.env.timestamp < latest.ready_at
        call = partial(self.escrow.disputeRoot, task_id, model.epoch, sender=self.requester)
        if self._expect(ok, call):
            assert latest is not None
            latest.frozen = True
            model.total = model.base_total
        self._check(task_id)

    @precondition(_has_trees)
    @rule(data=st.data())
    def claim(self, data: Any) -> None:
        task_id, model = self._pick(data, with_tree=True)
        root = model.claimable()
        assert root is not None
        tree, values = root.tree, root.values
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
        assert self.escrow.claimed(task_id, account) == model.claimed.get(account, 0) <= values[account]
        self._check(task_id)

    @precondition(_has_trees)
    @rule(data=st.data(), fee_bps=st.integers(0, MAX_RELAYER_FEE_BPS + 200), replay=st.booleans())
    def claim_gasless(self, data: Any, fee_bps: int, replay: bool) -> None:
        """A signed claim relayed by RELAYER for a fee (above the cap it reverts); a replay pays nothing."""
        task_id, model = self._pick(data, with_tree=True)
        root = model.claimable()
        assert root is not None
        key = data.draw(st.sampled_from([k for k in KEYS if k.address in root.values]))
        cumulative, already = root.values[key.address], model.claimed.get(key.address, 0)
        owed, fee = cumulative - already, (cumulative - already) * fee_bps // 10_000
        vault = self.escrow.vault(task_id)
        auth = ClaimAuthorisation(boa.env.evm.patch.chain_id, vault.address, key.address, cumulative, RELAYER,
                                  fee, boa.env.timestamp + DAY)  # fmt: skip
        signed = SignedClaim.sign(key, auth)
        proof = root.tree.proof(key.address, cumulative)
        args = (key.address, cumulative, proof, RELAYER, fee, auth.deadline, signed.v, signed.r, signed.s)
        ok = (
            owed > 0
            and boa.env.timestamp <= model.closes
            and owed <= model.funded - model.paid
            and fee_bps <= MAX_RELAYER_FEE_BPS
        )
        before = (self.token.balanceOf(key.address), self.token.balanceOf(RELAYER))
        if self._expect(ok, lambda: vault.claimWithSig(*args, sender=RELAYER)):
            model.claimed[key.address] = cumulative
            model.paid += owed
        after = (self.token.balanceOf(key.address), self.token.balanceOf(RELAYER))
        assert (after[0] - before[0], after[1] - before[1]) == ((owed - fee, fee) if ok else (0, 0))
        if ok and replay:
            with pytest.raises(BoaError):
                vault.claimWithSig(*args, sender=RELAYER)
        self._check(task_id)

    @precondition(lambda self: any(t.latest is not None for t in self.tasks.values()))
    @rule(data=st.data())
    def claim_from_an_unclaimable_root(self, data: Any) -> None:
        """The latest root pays nothing while in its window or once disputed."""
        task_id = data.draw(st.sampled_from(sorted(i for i, t in self.tasks.items() if t.latest is not None)))
        model = self.tasks[task_id]
        latest = model.latest
        assert latest is not None
        if model.claimable() is latest:
            return  # claimable: covered by `claim`
        settled = model.settled
        account = data.draw(st.sampled_from(sorted(latest.values)))
        if settled is not None and settled.tree.root == latest.tree.root:
            return  # the same tree posted twice
        with pytest.raises(BoaError):
            self.escrow.claim(
                task_id, account, latest.values[account], latest.tree.proof(account, latest.values[account])
            )
        self._check(task_id)

    @precondition(_has_trees)
    @rule(data=st.data())
    def claim_with_a_superseded_proof(self, data: Any) -> None:
        task_id, model = self._pick(data, with_tree=True)
        tree, values = data.draw(st.sampled_from(model.trees))
        account = data.draw(st.sampled_from(sorted(values)))
        root = model.claimable()
        if root is not None and values.get(account) == root.values.get(account):
            return  # that is the claimable entitlement: covered by `claim`
        with pytest.raises(BoaError):
            self.escrow.claim(task_id, account, values[account], tree.proof(account, values[account]))
        self._check(task_id)

    @precondition(_has_trees)
    @rule(
        data=st.data(), kind=st.sampled_from(["more", "less", "account", "proof"]), delta=st.integers(1, 100)
    )
    def claim_forged(self, data: Any, kind: str, delta: int) -> None:
        task_id, model = self._pick(data, with_tree=True)
        root = model.claimable()
        assert root is not None
        tree, values = root.tree, root.values
        account = data.draw(st.sampled_from(sorted(values)))
        amount, proof, target = values[account], tree.proof(account, values[account]), account
        if kind == "more":
            amount += delta
        elif kind == "less":
            amount = max(0, amount - delta)
        elif kind == "account":
            others = [a for a in ACCOUNTS if a != account and values.get(a) != amount]
            if not others:
                return
            target = data.draw(st.sampled_from(others))
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
            paying = model.claimable()
            assert all(
                paying is not None and model.claimed[a] <= paying.values.get(a, 0) for a in model.claimed
            )


@pytest.mark.timeout(3600)  # 1,000 examples (the thorough profile) in the in-process EVM: minutes
def test_the_escrow_keeps_its_invariants(
    escrow: Any, token: Any, funded_requester: str, operator: str
) -> None:
    EscrowMachine.escrow, EscrowMachine.token = escrow, token
    EscrowMachine.requester, EscrowMachine.operator = funded_requester, operator
    run_state_machine_as_test(
        EscrowMachine,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=16, deadline=None),
    )
