"""Validators' stakes: the port the review service reads, and its adapters.

Only tokens staked, not unbonding and not held by an open slashing incident count: a validator who
asked to unbond is on the way out, even while those tokens stay slashable, and a recorded incident
takes its amount from the stake first when it is executed.

Review reads a stake on every request for work and every vote; :class:`CachedStakes` keeps a
sufficient reading for a few seconds (``review_stake_cache_seconds``) so that a busy validator does
not cost a chain call per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import ValidatorStaking
from datacoop.identity.addresses import normalize_address

__all__ = ["CachedStakes", "ChainStakes", "InMemoryStakes", "StakeReader"]


class StakeReader(Protocol):
    """How much an address has staked as a validator, in token base units (0 when none)."""

    def stake_of(self, address: str) -> int: ...


class InMemoryStakes:
    """Stakes held in a dictionary: a node without a chain, and tests of what sits above this port."""

    def __init__(self, stakes: Mapping[str, int] | None = None) -> None:
        self._stakes = {normalize_address(a, field="address"): v for a, v in (stakes or {}).items()}

    def set(self, address: str, amount: int) -> None:
        self._stakes[normalize_address(address, field="address")] = amount

    def stake_of(self, address: str) -> int:
        return self._stakes.get(normalize_address(address, field="address"), 0)


class ChainStakes:
    """Stakes read from the ValidatorStaking contract: ``staked`` less what open incidents hold.

    With ``confirmations`` above 1, a stake counts only as far as it held ``confirmations`` blocks
    deep as well as now: a new stake gives review only once a reorg can no longer take it away,
    while an unbond or a slash takes effect at once.
    """

    def __init__(self, client: ChainClient, staking_address: str, *, confirmations: int = 1) -> None:
        self._client, self._confirmations = client, confirmations
        self._staking = ValidatorStaking(client, staking_address)

    def stake_of(self, address: str) -> int:
        account = normalize_address(address, field="address")
        now = self._read(account, None)  # the latest block
        if self._confirmations <= 1:
            return now
        settled = max(self._client.block_number() - self._confirmations + 1, 0)
        return min(now, self._read(account, settled))

    def _read(self, account: str, block: int | None) -> int:
        record = self._staking.contract.functions.validators(account).call(block_identifier=block)
        staked, reserved = int(record[0]), int(record[4])  # (staked, unbonding, releaseAt, slashed, reserved)
        return max(0, staked - reserved)


class CachedStakes:
    """A stake reader that remembers sufficient readings for ``ttl`` seconds.

    Only a reading of at least ``cache_from`` (the review minimum) is kept: someone refused for too
    small a stake is read afresh on their next call, so staking takes effect at once. A kept
    reading can be stale by at most ``ttl``: a validator who unbonds, or is slashed by someone
    else, loses review within that time. The node's own slashing calls :meth:`invalidate`, and an
    excluded validator is refused whatever their stake. ``ttl`` 0 keeps nothing.

    Args:
        inner: the reader asked on a miss (the chain).
        ttl: seconds a reading is kept.
        cache_from: the smallest reading kept.
        clock: monotonic seconds (a test moves it by hand).
    """

    def __init__(
        self,
        inner: StakeReader,
        *,
        ttl: float,
        cache_from: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner, self.ttl, self.cache_from, self._clock = inner, ttl, cache_from, clock
        self._kept: dict[str, tuple[float, int]] = {}  # address -> (expires at, stake)
        self._lock = threading.Lock()

    def stake_of(self, address: str) -> int:
        key = normalize_address(address, field="address")
        now = self._clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now < kept[0]:
            return kept[1]
        stake = self.inner.stake_of(key)
        with self._lock:
            if self.ttl > 0 and stake >= self.cache_from:
                self._kept[key] = (now + self.ttl, stake)
            else:
                self._kept.pop(key, None)
        return stake

    def invalidate(self, address: str | None = None) -> None:
        """Forget one address's reading (all of them when none is named): the next call reads afresh."""
        with self._lock:
            if address is None:
                self._kept.clear()
            else:
                self._kept.pop(normalize_address(address, field="address"), None)
