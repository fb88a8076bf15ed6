"""The chain watcher: the deployment's events read from the chain itself, reorg-safe, each kept once.

What the node believes happened on chain (a licence sold, a root posted, a stake slashed) comes from
here, never from a transaction hash a client posts. :meth:`ChainWatcher.step` reads the logs of the
deployment's contracts with ``eth_getLogs`` in bounded block ranges and, per range, in one database
transaction, keeps the decoded events (:mod:`datacoop.chain.event_log`), the hashes of the recent
blocks and the cursor (the last processed block's number and hash). So:

- **after a crash** it resumes from the cursor: a range is kept whole or not at all, and a log is
  unique on (chain id, block hash, log index), so no event is kept twice;
- **a reorg** shows as a stored block hash the chain no longer has; the watcher walks its window of
  recent headers back to the newest block both agree on, deletes every event above it and reads again;
- **finality**: consumers count an event only once ``confirmations`` processed blocks end with its
  own (:func:`datacoop.chain.event_log.final_event`); a reorg deeper than that is logged and counted;
- **one writer**: a step writes only while this process holds the lease it is given (the node passes
  its outbox lease, so the watcher runs where the outbox runs), one thread at a time.

No RPC is made while a database transaction is open.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from datacoop.chain.event_log import DecodedEvent, EventDecoder, depth_of, final_event
from datacoop.chain.lease import OutboxLease, process_lock
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import ChainCursor, ChainEvent, ChainHeader
from datacoop.errors import Unavailable

__all__ = ["ChainReader", "ChainWatcher", "Header", "WatcherState"]

log = logging.getLogger("datacoop.watcher")

ZERO_HASH = "0x" + "00" * 32


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent: str


class ChainReader(Protocol):
    """What the watcher reads from a chain (:class:`datacoop.chain.watch_rpc.RpcReader` over JSON-RPC)."""

    def head(self) -> int:
        """The newest block number."""

    def header(self, number: int) -> Header | None:
        """Block ``number``'s header, None past the head."""

    def logs(self, addresses: list[str], first: int, last: int) -> list[Any]:
        """The logs (:class:`~datacoop.chain.event_log.RawLog`) of ``addresses`` in blocks first..last."""


@dataclass(frozen=True)
class WatcherState:
    """What the health report shows: how far the watcher has read and how far behind the head it is."""

    head: int
    processed: int
    final_through: int
    lag: int
    reorgs: int
    deep_reorgs: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Point:
    number: int
    hash: str


class _Moved(Exception):
    """The chain or the cursor changed under a read: nothing is kept, the next step reads again."""


class ChainWatcher:
    """Follows the logs of ``contracts`` (``{address: contract name}``) on one chain into the database."""

    def __init__(
        self,
        db: Database,
        reader: ChainReader,
        contracts: dict[str, str],
        *,
        name: str,
        chain_id: int,
        confirmations: int,
        lease: OutboxLease,
        start_block: int | Callable[[], int] = 0,
        max_range: int = 1000,
        max_ranges: int = 10,
        clock: Clock = utc_now,
    ) -> None:
        self._db, self._reader, self._decoder = db, reader, EventDecoder(contracts)
        self.name, self.chain_id, self.confirmations = name, chain_id, max(confirmations, 1)
        self._lease, self._lock = lease, process_lock(f"watcher:{name}")
        self._start, self.max_range, self.max_ranges = start_block, max_range, max_ranges
        self.window = self.confirmations + 64  # recent headers kept to find where a reorg forked
        self._clock = clock

    @functools.cached_property
    def start_block(self) -> int:
        """The first block read (a callable given is asked once, when first needed: it may search)."""
        return self._start if isinstance(self._start, int) else self._start()

    # --- reading (any process) ----------------------------------------------------------------

    def final_event(self, s: Session, name: str, tx_hash: str) -> ChainEvent | None:
        return final_event(s, self.name, self.confirmations, name=name, tx_hash=tx_hash)

    def depth_of(self, s: Session, tx_hash: str) -> int | None:
        return depth_of(s, self.name, tx_hash)

    def processed(self, s: Session) -> int:
        """The last block processed (``start_block - 1`` before the first step)."""
        row = s.get(ChainCursor, self.name)
        return row.block_number if row is not None else self.start_block - 1

    def state(self) -> WatcherState:
        head = self._reader.head()
        with self._db.transaction() as s:
            row = s.get(ChainCursor, self.name)
            done = row.block_number if row is not None else self.start_block - 1
            reorgs = (row.reorgs, row.deep_reorgs) if row is not None else (0, 0)
        return WatcherState(head, done, done - self.confirmations + 1, max(head - done, 0), *reorgs)

    def wait_final(self, tx_hash: str, event: str, *, timeout: float = 60) -> ChainEvent:
        """Step until ``tx_hash``'s ``event`` is final (callers that wait on their own transaction)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._db.transaction() as s:
                found = self.final_event(s, event, tx_hash)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise Unavailable(f"{event} of {tx_hash} not final after {timeout}s", field="confirmations")
            if not self.step():
                time.sleep(0.02)

    # --- writing (the lease holder) -----------------------------------------------------------

    def step(self) -> bool:
        """Roll back a reorg or read up to ``max_ranges`` ranges towards the head; True if anything moved.

        Does nothing (False) while another process holds the lease.
        """
        with self._lock:
            if not self._lease.hold():
                return False
            try:
                return self._step()
            except _Moved as why:
                log.info("watcher %s: %s; reading again next step", self.name, why)
                return False

    def _step(self) -> bool:
        cursor = self._cursor()
        head = self._reader.head()
        if self._reorged(cursor):
            self._roll_back(cursor, self._ancestor())
            return True
        moved = False
        for _ in range(self.max_ranges):
            if cursor.number >= head:
                break
            cursor = self._read(cursor, cursor.number + 1, min(head, cursor.number + self.max_range), head)
            moved = True
        return moved

    def _cursor(self) -> _Point:
        with self._db.transaction() as s:
            row = s.get(ChainCursor, self.name)
            if row is not None:
                return _Point(row.block_number, row.block_hash)
        before = self.start_block - 1
        parent = self._reader.header(before) if before >= 0 else None
        point = _Point(before, parent.hash if parent else ZERO_HASH)
        with self._db.transaction() as s:
            s.add(ChainCursor(
                name=self.name, chain_id=self.chain_id, block_number=point.number, block_hash=point.hash,
                head=point.number, reorgs=0, deep_reorgs=0, updated_at=self._clock(),
            ))  # fmt: skip
        return point

    def _reorged(self, cursor: _Point) -> bool:
        if cursor.number < 0:  # nothing read yet, from genesis on
            return False
        found = self._reader.header(cursor.number)
        return found is None or found.hash != cursor.hash

    def _ancestor(self) -> _Point:
        """The newest kept block the chain still has; past the window, the block below the window."""
        with self._db.transaction() as s:
            kept = s.execute(
                select(ChainHeader.number, ChainHeader.hash)
                .where(ChainHeader.cursor == self.name)
                .order_by(ChainHeader.number.desc())
            ).all()
        for number, block_hash in kept:
            found = self._reader.header(number)
            if found is not None and found.hash == block_hash:
                return _Point(number, block_hash)
        below = (kept[-1][0] if kept else self.start_block) - 1
        found = self._reader.header(below) if below >= 0 else None
        return _Point(below, found.hash if found else ZERO_HASH)

    def _roll_back(self, cursor: _Point, ancestor: _Point) -> None:
        with self._db.transaction() as s:
            gone = ChainEvent.block_number > ancestor.number
            mine = ChainEvent.cursor == self.name
            count = len(s.scalars(select(ChainEvent.id).where(mine, gone)).all())
            was_final = ChainEvent.block_number <= cursor.number - self.confirmations + 1
            deep = bool(s.scalars(select(ChainEvent.id).where(mine, gone, was_final).limit(1)).first())
            deep = deep or ancestor.number < cursor.number - self.window
            s.execute(delete(ChainEvent).where(mine, gone))
            s.execute(
                delete(ChainHeader).where(
                    ChainHeader.cursor == self.name, ChainHeader.number > ancestor.number
                )
            )
            row = self._fenced(s, cursor)
            row.block_number, row.block_hash, row.updated_at = ancestor.number, ancestor.hash, self._clock()
            row.reorgs += 1
            row.deep_reorgs += int(deep)
        note = " (PAST THE CONFIRMATION DEPTH)" if deep else ""
        (log.error if deep else log.warning)(
            "watcher %s: reorg below block %s; back to block %s, %s event(s) rolled back%s",
            self.name, cursor.number, ancestor.number, count, note,
        )  # fmt: skip

    def _fenced(self, s: Session, cursor: _Point) -> ChainCursor:
        """The cursor row, if it is still where this step found it (else another writer moved it)."""
        row = s.get(ChainCursor, self.name, with_for_update=True)
        if row is None or (row.block_number, row.block_hash) != (cursor.number, cursor.hash):
            raise _Moved("the cursor moved under this writer")
        return row

    def _read(self, cursor: _Point, first: int, last: int, head: int) -> _Point:
        """Keep the events of blocks first..last; the new cursor. Raises _Moved if the chain moved."""
        tip = self._header(last)
        numbers = sorted({first, *range(max(first, head - self.window + 1), last)})
        headers = {n: self._header(n) for n in numbers} | {last: tip}
        if headers[first].parent != cursor.hash:
            raise _Moved(f"block {first} does not follow the processed block {cursor.number}")
        raw = self._reader.logs(list(self._decoder.contracts), first, last)
        # every block up to `last` is an ancestor of it: if its hash held across the read, so did theirs
        if self._header(last).hash != tip.hash:
            raise _Moved(f"block {last} changed during the read")
        if any(r.block_number in headers and headers[r.block_number].hash != r.block_hash for r in raw):
            raise _Moved("a log names a block hash the chain no longer has")
        events = [e for e in map(self._decoder.decode, raw) if e is not None]
        with self._db.transaction() as s:
            row = self._fenced(s, cursor)
            s.add_all(self._row(e) for e in events)
            s.add_all(
                ChainHeader(cursor=self.name, number=h.number, hash=h.hash)
                for h in headers.values()
                if h.number > last - self.window
            )
            s.execute(
                delete(ChainHeader).where(
                    ChainHeader.cursor == self.name, ChainHeader.number <= last - self.window
                )
            )
            row.block_number, row.block_hash, row.head, row.updated_at = last, tip.hash, head, self._clock()
        return _Point(last, tip.hash)

    def _header(self, number: int) -> Header:
        found = self._reader.header(number)
        if found is None:
            raise _Moved(f"the chain has no block {number} any more")
        return found

    def _row(self, e: DecodedEvent) -> ChainEvent:
        return ChainEvent(
            cursor=self.name, chain_id=self.chain_id, block_number=e.log.block_number,
            block_hash=e.log.block_hash.lower(), tx_hash=e.log.tx_hash.lower(), log_index=e.log.log_index,
            address=e.log.address, contract=e.contract, name=e.name, args=e.args,
        )  # fmt: skip
