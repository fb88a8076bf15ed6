"""The handles every part of settlement shares: the node's database, its chain (if any) and its clock.

:class:`~datacoop.settlement.service.SettlementService` builds one :class:`Handles` and hands it to
its funding, epoch and claim parts, so that they all see the same database, the same chain and the
same clock, and all answer a call that needs a chain the same way when the node runs without one.
"""

from __future__ import annotations

from dataclasses import dataclass

from datacoop.chain.contracts import TaskEscrow
from datacoop.chain.setup import ChainHandle, is_operator, require_chain
from datacoop.clock import Clock
from datacoop.db import Database
from datacoop.identity.addresses import normalize_address

__all__ = ["Handles"]


@dataclass(frozen=True)
class Handles:
    """The database, the chain (None when the node runs with ``chain = 'off'``) and the clock."""

    db: Database
    chain: ChainHandle | None
    clock: Clock

    def need_chain(self) -> ChainHandle:
        """The chain, or Unavailable when this node runs without one."""
        return require_chain(self.chain, "nothing can settle")

    def escrow(self) -> TaskEscrow:
        """The node's TaskEscrow factory (Unavailable without a chain)."""
        chain = self.need_chain()
        return TaskEscrow(chain.client, chain.deployment.escrow)

    def is_operator(self, address: str) -> bool:
        """Whether ``address`` is the node's operator (never, without a chain)."""
        return is_operator(self.chain, normalize_address(address))
