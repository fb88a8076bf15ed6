"""Validators' stakes: the port the review service reads, and its adapters.

Only tokens staked and not unbonding count: a validator who asked to unbond is on the way out,
even while those tokens stay slashable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import ValidatorStaking
from datacoop.domain.identity import normalize_address

__all__ = ["ChainStakes", "InMemoryStakes", "StakeReader"]


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
    """Stakes read from the ValidatorStaking contract (``validators(address).staked``)."""

    def __init__(self, client: ChainClient, staking_address: str) -> None:
        self._staking = ValidatorStaking(client, staking_address)

    def stake_of(self, address: str) -> int:
        record = self._staking.contract.functions.validators(
            normalize_address(address, field="address")
        ).call()
        return int(record[0])  # (staked, unbonding, unbondingReleaseAt, slashed)
