"""FunderLookup: who first sent an account ETH, read from at most ``max_blocks`` blocks and cached."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.conftest import make_account

from datacoop.chain.funders import FunderLookup
from datacoop.db import Database

ALICE, BOB, CAROL = (make_account(seed).address for seed in (0xA, 0xB, 0xC))


@dataclass
class BlocksInMemory:
    """Blocks of (sender, recipient, wei) transfers; counts the blocks read."""

    blocks: list[list[tuple[str, str | None, int]]] = field(default_factory=list)
    read: list[int] = field(default_factory=list)
    chain_id: int = 31337

    def block_number(self) -> int:
        return len(self.blocks) - 1

    def transfers_in(self, number: int) -> list[tuple[str, str | None, int]]:
        self.read.append(number)
        return self.blocks[number]

    def mine(self, *transfers: tuple[str, str | None, int]) -> None:
        self.blocks.append(list(transfers))


def test_the_first_sender_of_eth_is_the_funder_and_is_read_once(db: Database) -> None:
    # Prepare: a deployment (no recipient), a zero-value call, then Bob's ETH, then Carol's
    chain = BlocksInMemory()
    chain.mine((CAROL, None, 0))
    chain.mine((CAROL, ALICE, 0), (BOB, ALICE, 10**18))
    chain.mine((CAROL, ALICE, 10**18))
    lookup = FunderLookup(db, chain, max_blocks=100)
    # Execute
    first = lookup.funder(ALICE.lower())
    read_first = list(chain.read)
    again = lookup.funder(ALICE)
    # Assert
    assert first == again == BOB
    assert read_first == [0, 1] and chain.read == read_first  # stops at the find; the cache answers after


def test_at_most_max_blocks_are_read_back_from_the_head(db: Database) -> None:
    chain = BlocksInMemory()
    chain.mine((BOB, ALICE, 1))  # older than the window: not seen
    for _ in range(9):
        chain.mine()
    lookup = FunderLookup(db, chain, max_blocks=5)
    assert lookup.funder(ALICE) is None
    assert chain.read == [5, 6, 7, 8, 9]


def test_an_account_with_no_funder_yet_reads_only_new_blocks_later(db: Database) -> None:
    chain = BlocksInMemory()
    for _ in range(3):
        chain.mine()
    lookup = FunderLookup(db, chain, max_blocks=100)
    assert lookup.funder(ALICE) is None
    chain.mine((CAROL, ALICE, 5))
    chain.read.clear()
    assert lookup.funder(ALICE) == CAROL
    assert chain.read == [3]
