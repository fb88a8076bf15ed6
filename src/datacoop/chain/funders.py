"""Who first sent an account ETH: read from the chain's blocks, within a bound, and cached in the database.

:meth:`FunderLookup.funder` reads at most ``max_blocks`` blocks ending at the head, oldest first,
for a transaction that sends ETH to the account; the first sender found is kept in
``account_funders`` and the chain is never read for that account again. An account with none
found is kept with the blocks read; a later look-up reads only the blocks mined since (again at
most ``max_blocks``). So one look-up costs at most ``max_blocks`` block reads, and a known funder
none. Funding older than the window, or sent by a contract's internal call, is not seen: the
signal then misses a link, it never invents one.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.exc import IntegrityError as SAIntegrityError
from web3 import Web3

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import AccountFunder

__all__ = ["BlockTransfers", "FunderLookup"]


class BlockTransfers(Protocol):
    """What the look-up reads from a chain (:class:`~datacoop.chain.client.ChainClient` is one)."""

    @property
    def chain_id(self) -> int: ...

    def block_number(self) -> int: ...

    def transfers_in(self, number: int) -> list[tuple[str, str | None, int]]: ...


class FunderLookup:
    """``funder(address)``: the first account seen sending ``address`` ETH, or None (see the module).

    Args:
        db: where found funders and the blocks read are cached.
        chain: the chain's blocks.
        max_blocks: the most blocks one look-up reads back from the head.
    """

    def __init__(
        self, db: Database, chain: BlockTransfers, *, max_blocks: int = 5000, clock: Clock = utc_now
    ) -> None:
        self._db, self._chain, self._max_blocks, self._clock = db, chain, max_blocks, clock

    @property
    def chain_id(self) -> int:
        return self._chain.chain_id

    def funder(self, address: str) -> str | None:
        address, chain_id = Web3.to_checksum_address(address), self._chain.chain_id
        with self._db.transaction() as s:
            cached = s.get(AccountFunder, (chain_id, address))
            if cached is not None and cached.funder is not None:
                return cached.funder
            read_to = cached.scanned_to if cached is not None else -1
        head = self._chain.block_number()
        first = max(head - self._max_blocks + 1, read_to + 1, 0)
        found = self._scan(address, first, head)
        return self._keep(chain_id, address, found, first, head)

    def _scan(self, address: str, first: int, last: int) -> str | None:
        for number in range(first, last + 1):
            for sender, recipient, value in self._chain.transfers_in(number):
                if value > 0 and recipient is not None and recipient.lower() == address.lower():
                    return Web3.to_checksum_address(sender)
        return None

    def _keep(self, chain_id: int, address: str, found: str | None, first: int, last: int) -> str | None:
        now = self._clock()
        try:
            with self._db.transaction() as s:
                row = s.get(AccountFunder, (chain_id, address), with_for_update=True)
                if row is None:
                    s.add(AccountFunder(chain_id=chain_id, address=address, funder=found,
                                        scanned_from=first, scanned_to=last, checked_at=now))  # fmt: skip
                    return found
                if row.funder is None:  # another look-up may have found it meanwhile: the earlier stands
                    row.funder, row.scanned_to, row.checked_at = found, max(row.scanned_to, last), now
                return row.funder
        except SAIntegrityError:  # a concurrent look-up cached the account first: its answer stands
            with self._db.transaction() as s:
                kept = s.get(AccountFunder, (chain_id, address))
                return kept.funder if kept is not None else found
