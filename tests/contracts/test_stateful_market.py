"""LicenseMarket against a model, driven by a hypothesis state machine.

Random listings (price, royalty share, duration), fee changes, pauses, sales by several
buyers, dataset transfers, royalty epochs and claims, clock jumps. After every step:

- every sale's royalty + operator fee + publisher share adds up exactly to its price, and each
  party received exactly its share;
- per royalty pool paid <= total <= credited, and the market holds exactly the unpaid royalties;
- a licence is valid exactly while block time < its expiry, for its holder.

Examples: 200 by default (CI); ``DATACOOP_HYPOTHESIS_PROFILE=thorough`` runs 1,000
(``DATACOOP_MARKET_EXAMPLES`` sets any other number).
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
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tests.contracts.conftest import DAY, TERMS
from tests.contracts.tree import Tree, build_tree

BUYERS = [boa.env.generate_address(f"market-sm-buyer{i}") for i in range(3)]
CONTRIBUTORS = [boa.env.generate_address(f"market-sm-contributor{i}") for i in range(4)]
OWNERS = [boa.env.generate_address(f"market-sm-owner{i}") for i in range(2)]
MAX_LISTINGS = 4

_DEFAULT = "1000" if os.environ.get("DATACOOP_HYPOTHESIS_PROFILE") == "thorough" else "200"
EXAMPLES = int(os.environ.get("DATACOOP_MARKET_EXAMPLES", _DEFAULT))


@dataclass
class ListingModel:
    price: int
    royalty_bps: int
    fee_bps: int
    duration: int
    active: bool = True
    credited: int = 0
    total: int = 0
    paid: int = 0
    epoch: int = 0
    entitled: dict[str, int] = field(default_factory=dict)
    claimed: dict[str, int] = field(default_factory=dict)
    tree: Tree | None = None


class MarketMachine(RuleBasedStateMachine):
    market: ClassVar[Any]
    registry: ClassVar[Any]
    token: ClassVar[Any]
    dataset: ClassVar[int]
    admin: ClassVar[str]
    operator: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.listings: dict[int, ListingModel] = {}
        self.licences: dict[int, tuple[str, int]] = {}  # id -> (holder, expires)
        self.owner = OWNERS[0]
        self.fee_bps = self.market.operatorFeeBps()
        self.fee_recipient = self.market.feeRecipient()
        self.sales = self.publisher_income = self.fee_income = 0

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    def _check_pool(self, listing_id: int) -> None:
        model, pool = self.listings[listing_id], self.market.royaltyPool(listing_id)
        assert (pool.credited, pool.total, pool.paid) == (model.credited, model.total, model.paid)
        assert pool.paid <= pool.total <= pool.credited

    def _check_licences(self) -> None:
        now = boa.env.timestamp
        for licence_id, (holder, expires) in self.licences.items():
            assert self.market.isLicenceValid(licence_id, holder) == (now < expires)

    def _pick(self, data: Any) -> tuple[int, ListingModel]:
        listing_id = data.draw(st.sampled_from(sorted(self.listings)))
        return listing_id, self.listings[listing_id]

    # ---- rules

    @initialize(price=st.integers(10**4, 10**24), royalty_bps=st.integers(1, 9500))
    def first_sale(self, price: int, royalty_bps: int) -> None:
        """Every run starts with one listing and one sale, so royalties are there to distribute."""
        listing_id = self.market.list(
            self.dataset, 1, self.token.address, price, TERMS, DAY, royalty_bps, sender=self.owner
        )
        self.listings[listing_id] = ListingModel(price, royalty_bps, self.fee_bps, DAY)
        self._buy(listing_id, BUYERS[0])

    @precondition(lambda self: len(self.listings) < MAX_LISTINGS)
    @rule(data=st.data(), price=st.integers(10**4, 10**24), duration=st.integers(1, 90 * DAY))
    def list_version(self, data: Any, price: int, duration: int) -> None:
        royalty_bps = data.draw(st.integers(1, 10_000 - self.fee_bps))
        listing_id = self.market.list(
            self.dataset, 1, self.token.address, price, TERMS, duration, royalty_bps, sender=self.owner
        )
        self.listings[listing_id] = ListingModel(price, royalty_bps, self.fee_bps, duration)

    @rule(bps=st.integers(0, 1000))
    def set_operator_fee(self, bps: int) -> None:
        self.market.setOperatorFee(bps, sender=self.admin)
        self.fee_bps = bps

    @precondition(lambda self: self.listings)
    @rule(data=st.data(), active=st.booleans())
    def set_active(self, data: Any, active: bool) -> None:
        listing_id, model = self._pick(data)
        self.market.setListingActive(listing_id, active, sender=self.owner)
        model.active = active

    @rule(to=st.sampled_from(OWNERS))
    def transfer_dataset(self, to: str) -> None:
        self.registry.transferFrom(self.owner, to, self.dataset, sender=self.owner)
        self.owner = to

    @precondition(lambda self: self.listings)
    @rule(data=st.data(), buyer=st.sampled_from(BUYERS))
    def buy(self, data: Any, buyer: str) -> None:
        listing_id, _ = self._pick(data)
        self._buy(listing_id, buyer)

    def _buy(self, listing_id: int, buyer: str) -> None:
        model = self.listings[listing_id]
        parties = [buyer, self.owner, self.fee_recipient, self.market.address]
        before = [self.token.balanceOf(p) for p in parties]
        if not model.active:
            with pytest.raises(BoaError):
                self.market.buy(listing_id, sender=buyer)
            return
        licence_id = self.market.buy(listing_id, sender=buyer)
        (sold,) = [log for log in self.market.get_logs() if type(log).__name__ == "LicenceSold"]
        royalty = model.price * model.royalty_bps // 10_000
        fee = model.price * model.fee_bps // 10_000
        assert (sold.amount, sold.royalty, sold.operatorFee) == (model.price, royalty, fee)
        assert sold.royalty + sold.operatorFee + sold.publisherShare == model.price
        after = [self.token.balanceOf(p) for p in parties]
        assert [a - b for a, b in zip(after, before, strict=True)] == [
            -model.price,
            sold.publisherShare,
            fee,
            royalty,
        ]
        model.credited += royalty
        self.sales += model.price
        self.publisher_income += sold.publisherShare
        self.fee_income += fee
        self.licences[licence_id] = (buyer, boa.env.timestamp + model.duration)
        assert self.market.ownerOf(licence_id) == buyer
        assert self.market.isLicenceValid(licence_id, buyer)
        assert self.market.licenceExpires(licence_id) == sold.expires == self.licences[licence_id][1]
        self._check_pool(listing_id)

    @precondition(lambda self: any(m.credited > m.total for m in self.listings.values()))
    @rule(data=st.data(), overshoot=st.integers(0, 9).map(lambda n: n == 0))
    def post_royalty_epoch(self, data: Any, overshoot: bool) -> None:
        """Raise entitlements within the royalties credited so far, or (overshoot) one unit past them."""
        listing_id = data.draw(
            st.sampled_from(sorted(i for i, m in self.listings.items() if m.credited > m.total))
        )
        model = self.listings[listing_id]
        share = (model.credited - model.total) // len(CONTRIBUTORS)
        eighths = data.draw(
            st.lists(st.integers(0, 8), min_size=len(CONTRIBUTORS), max_size=len(CONTRIBUTORS))
        )
        increments = [share * e // 8 for e in eighths]
        if overshoot:
            increments[0] += model.credited - model.total - sum(increments) + 1
        entitled = {a: model.entitled.get(a, 0) + i for a, i in zip(CONTRIBUTORS, increments, strict=True)}
        values = {a: v for a, v in entitled.items() if v > 0}
        if not values:
            return
        tree, total = build_tree(list(values.items())), sum(values.values())
        post = partial(
            self.market.postRoyaltyRoot, listing_id, model.epoch + 1, tree.root, total, sender=self.operator
        )
        if total > model.credited:
            with pytest.raises(BoaError):
                post()
            return
        post()
        model.epoch, model.total, model.entitled, model.tree = model.epoch + 1, total, values, tree
        self._check_pool(listing_id)

    @precondition(lambda self: any(m.tree for m in self.listings.values()))
    @rule(data=st.data())
    def claim_royalty(self, data: Any) -> None:
        listing_id = data.draw(st.sampled_from(sorted(i for i, m in self.listings.items() if m.tree)))
        model = self.listings[listing_id]
        assert model.tree is not None
        account = data.draw(st.sampled_from(sorted(model.entitled)))
        cumulative = model.entitled[account]
        owed = cumulative - model.claimed.get(account, 0)
        claim = partial(
            self.market.claimRoyalty, listing_id, account, cumulative, model.tree.proof(account, cumulative)
        )
        if owed == 0:
            with pytest.raises(BoaError):
                claim()
            return
        before = self.token.balanceOf(account)
        claim()
        assert self.token.balanceOf(account) - before == owed
        model.claimed[account] = cumulative
        model.paid += owed
        self._check_pool(listing_id)

    @rule(seconds=st.integers(1, 30 * DAY))
    def warp(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)
        self._check_licences()

    # ---- invariants

    @invariant()
    def the_market_holds_exactly_the_unpaid_royalties(self) -> None:
        unpaid = sum(m.credited - m.paid for m in self.listings.values())
        assert self.token.balanceOf(self.market.address) == unpaid
        assert self.sales == self.publisher_income + self.fee_income + sum(
            m.credited for m in self.listings.values()
        )


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 1,000 examples in the in-process EVM: minutes, more beside other workers
def test_the_market_keeps_its_invariants(
    market: Any, registry: Any, token: Any, admin: str, operator: str
) -> None:
    # Prepare: one dataset owned by OWNERS[0]; buyers funded and approved
    dataset = registry.createDataset(OWNERS[0], sender=OWNERS[0])
    registry.publishVersion(dataset, "bafy" + "b" * 55, b"\x01" * 32, 1, sender=OWNERS[0])
    for buyer in BUYERS:
        token.mint(buyer, 10**40)
        token.approve(market.address, 2**256 - 1, sender=buyer)
    MarketMachine.market, MarketMachine.registry, MarketMachine.token = market, registry, token
    MarketMachine.dataset, MarketMachine.admin, MarketMachine.operator = dataset, admin, operator
    run_state_machine_as_test(
        MarketMachine, settings=settings(max_examples=EXAMPLES, stateful_step_count=12, deadline=None)
    )
