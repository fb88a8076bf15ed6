"""The cached stake reader in front of the chain: what it keeps, for how long, and when it forgets."""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import make_account
from tests.unit.review.review_world import STAKE, World

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.errors import Forbidden
from datacoop.review.stakes import CachedStakes, InMemoryStakes

ALICE = make_account(0xA11CE).address


class Seconds:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counted(InMemoryStakes):
    """In-memory stakes that count how often they are read (the chain calls a cache saves)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def stake_of(self, address: str) -> int:
        self.reads += 1
        return super().stake_of(address)


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


def test_a_sufficient_reading_is_kept_for_the_ttl_then_read_again(seconds: Seconds) -> None:
    # Prepare
    chain = Counted()
    chain.set(ALICE, STAKE)
    cached = CachedStakes(chain, ttl=5, cache_from=STAKE, clock=seconds)
    # Execute: read, unbond on "chain", read again within the ttl and after it
    first = cached.stake_of(ALICE)
    chain.set(ALICE, 0)
    seconds.now += 4.9
    within = cached.stake_of(ALICE.lower())  # the same address, spelt differently
    seconds.now += 0.1
    after = cached.stake_of(ALICE)
    # Assert
    assert (first, within, after) == (STAKE, STAKE, 0)
    assert chain.reads == 2


def test_a_reading_below_the_minimum_is_never_kept_so_staking_counts_at_once(seconds: Seconds) -> None:
    chain = Counted()
    chain.set(ALICE, STAKE - 1)
    cached = CachedStakes(chain, ttl=60, cache_from=STAKE, clock=seconds)
    assert cached.stake_of(ALICE) == STAKE - 1
    chain.set(ALICE, STAKE)
    assert cached.stake_of(ALICE) == STAKE  # no wait for the ttl
    assert cached.stake_of(ALICE) == STAKE and chain.reads == 2


def test_invalidate_forgets_one_address_or_all_of_them(seconds: Seconds) -> None:
    bob = make_account(0xB0B).address
    chain = Counted()
    chain.set(ALICE, 2 * STAKE)
    chain.set(bob, 2 * STAKE)
    cached = CachedStakes(chain, ttl=3600, cache_from=STAKE, clock=seconds)
    cached.stake_of(ALICE), cached.stake_of(bob)
    chain.set(ALICE, STAKE)
    chain.set(bob, STAKE)
    # Execute: the node slashed alice
    cached.invalidate(ALICE.lower())
    assert (cached.stake_of(ALICE), cached.stake_of(bob)) == (STAKE, 2 * STAKE)
    cached.invalidate()
    assert cached.stake_of(bob) == STAKE


def test_a_ttl_of_zero_reads_the_chain_every_time(seconds: Seconds) -> None:
    chain = Counted()
    chain.set(ALICE, STAKE)
    cached = CachedStakes(chain, ttl=0, cache_from=STAKE, clock=seconds)
    for _ in range(3):
        assert cached.stake_of(ALICE) == STAKE
    assert chain.reads == 3


def test_a_validator_who_unbonds_is_refused_a_vote_once_the_cached_stake_expires(
    node: Node,
    sdk: Any,
    requester: DataCoopClient,
    contributor: DataCoopClient,
    stakes: InMemoryStakes,
    seconds: Seconds,
) -> None:
    # Prepare: review reads stakes through the cache, as a node with a chain does
    world = World(node, sdk, requester, contributor, stakes)
    node.review.stakes = CachedStakes(stakes, ttl=5, cache_from=STAKE, clock=seconds)
    task = world.task(k=1)
    v = world.validator(0x901)
    world.qualify(v)
    world.in_review(task, b"an item to review")
    item = world.next_real(v)
    assert item is not None
    # Execute: the validator unbonds; the ttl passes
    stakes.set(v.account.address, 0)  # type: ignore[union-attr]
    seconds.now += 5
    # Assert
    with pytest.raises(Forbidden) as refused:
        v.vote(item, "accept")
    assert refused.value.field == "stake" and "staked now: 0" in refused.value.message
