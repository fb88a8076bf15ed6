"""The chain watcher on a chain in memory: bounded ranges, confirmations, reorgs, restarts, one writer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.unit.chain.memory_chain import MARKET, OTHER, MemoryChain, sold
from web3 import Web3

from datacoop.chain.lease import OutboxLease
from datacoop.chain.watcher import ChainWatcher
from datacoop.db import Database
from datacoop.db.models import ChainCursor, ChainEvent

BUYER = "0x" + "b0" * 20


@pytest.fixture
def chain() -> MemoryChain:
    return MemoryChain()


def watcher(db: Database, chain: MemoryChain, *, confirmations: int = 3, **kw: Any) -> ChainWatcher:
    lease = OutboxLease(db, "outbox:test")
    return ChainWatcher(
        db, chain, {MARKET: "LicenseMarket"}, name="31337:test", chain_id=31337,
        confirmations=confirmations, lease=lease, start_block=1, **kw,
    )  # fmt: skip


def kept(db: Database) -> list[tuple[int, str]]:
    with db.transaction() as s:
        rows = s.scalars(select(ChainEvent).order_by(ChainEvent.block_number, ChainEvent.log_index))
        return [(r.block_number, r.args["licenceId"]) for r in rows]


def run(w: ChainWatcher) -> None:
    while w.step():
        pass


def test_events_are_read_in_bounded_ranges_and_decoded_by_name(db: Database, chain: MemoryChain) -> None:
    # Prepare: 24 blocks, a sale in blocks 3 and 19, and a log of a contract nobody watches
    chain.mine(empty=1)
    chain.mine(sold(7, BUYER, amount=2**100), sold(8, BUYER, address=OTHER), empty=15)
    chain.mine(sold(9, BUYER), empty=5)
    w = watcher(db, chain, max_range=4, max_ranges=2)
    # Execute
    run(w)
    # Assert
    assert chain.log_calls[:3] == [(1, 4), (5, 8), (9, 12)]
    assert all(last - first < 4 for first, last in chain.log_calls)
    assert kept(db) == [(3, "7"), (19, "9")]
    with db.transaction() as s:
        first = s.scalars(select(ChainEvent).order_by(ChainEvent.id)).first()
        assert first is not None
        assert (first.contract, first.name, first.address) == ("LicenseMarket", "LicenceSold", MARKET)
        assert first.args["buyer"] == Web3.to_checksum_address(BUYER)
        assert first.args["amount"] == str(2**100) and first.args["listingId"] == "1"
    state = w.state()
    assert (state.head, state.processed, state.lag, state.final_through) == (24, 24, 0, 22)


def test_an_event_counts_only_at_the_confirmation_depth(db: Database, chain: MemoryChain) -> None:
    block = chain.mine(sold(1, BUYER))
    w = watcher(db, chain, confirmations=3)
    tx = chain.logs([MARKET], block.number, block.number)[0].tx_hash
    seen = []
    for _ in range(3):
        run(w)
        with db.transaction() as s:
            seen.append((w.depth_of(s, tx), w.final_event(s, "LicenceSold", tx) is not None))
        chain.mine()
    assert seen == [(1, False), (2, False), (3, True)]


def test_a_reorg_rolls_back_the_unconfirmed_events_and_reads_the_new_fork(
    db: Database, chain: MemoryChain
) -> None:
    # Prepare: sale 1 deep enough to be final, sale 2 in the newest block
    chain.mine(sold(1, BUYER), empty=3)
    chain.mine(sold(2, BUYER))
    w = watcher(db, chain, confirmations=3)
    run(w)
    assert kept(db) == [(1, "1"), (5, "2")]
    # Execute: the newest two blocks are replaced by three others, sale 3 instead of sale 2
    chain.reorg(2)
    chain.mine(sold(3, BUYER), empty=2)
    run(w)
    # Assert
    assert kept(db) == [(1, "1"), (4, "3")]
    state = w.state()
    assert (state.processed, state.reorgs, state.deep_reorgs) == (6, 1, 0)
    with db.transaction() as s:
        cursor = s.get(ChainCursor, "31337:test")
        assert cursor is not None and cursor.block_hash == chain.blocks[6].hash


def test_a_reorg_past_the_confirmation_depth_is_counted_as_deep(db: Database, chain: MemoryChain) -> None:
    chain.mine(sold(1, BUYER), empty=5)
    w = watcher(db, chain, confirmations=2)
    run(w)
    chain.reorg(6)
    chain.mine(empty=7)
    run(w)
    assert kept(db) == []
    assert (w.state().reorgs, w.state().deep_reorgs) == (1, 1)


def test_a_new_watcher_resumes_from_the_cursor_and_keeps_each_event_once(
    db: Database, chain: MemoryChain
) -> None:
    for licence in range(1, 9):
        chain.mine(sold(licence, BUYER))
    first = watcher(db, chain, max_range=3, max_ranges=1)
    first.step()  # blocks 1-3, then the process "stops"
    chain.log_calls.clear()
    second = watcher(db, chain, max_range=3, max_ranges=1)
    run(second)
    assert chain.log_calls[0] == (4, 6)  # resumed after the cursor, not from the start block
    assert kept(db) == [(n, str(n)) for n in range(1, 9)]


def test_only_the_lease_holder_writes(db: Database, chain: MemoryChain) -> None:
    chain.mine(sold(1, BUYER))
    other = OutboxLease(db, "outbox:test")
    other.holder = "elsewhere:boot:1:1"  # a live process on another host holds the outbox
    assert other.hold()
    w = watcher(db, chain)
    assert w.step() is False
    assert kept(db) == []


class ReorgDuringRead(MemoryChain):
    """A chain whose newest block is replaced while the watcher's first eth_getLogs is under way."""

    def logs(self, addresses: list[str], first: int, last: int) -> list[Any]:
        found = super().logs(addresses, first, last)
        if len(self.log_calls) == 1:
            self.reorg(1)
            self.mine(sold(2, BUYER))
        return found


def test_a_reorg_during_a_read_keeps_nothing_of_it_and_the_next_step_reads_anew(db: Database) -> None:
    # Prepare
    chain = ReorgDuringRead()
    chain.mine(sold(1, BUYER))
    w = watcher(db, chain)
    # Execute
    first = w.step()
    after_first = kept(db)
    run(w)
    # Assert
    assert (first, after_first) == (False, [])
    assert kept(db) == [(1, "2")]


def test_a_log_that_no_abi_describes_is_skipped(db: Database, chain: MemoryChain) -> None:
    address, topics, data = sold(1, BUYER)
    chain.mine((address, b"\x01" * 32 + topics[32:], data), sold(2, BUYER))
    run(watcher(db, chain))
    assert kept(db) == [(1, "2")]
