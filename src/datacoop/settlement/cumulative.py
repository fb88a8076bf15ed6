"""Cumulative Merkle claims: the piece settlement's epochs and the exchange's royalty rounds share.

Both post roots of *cumulative* entitlements (an account's running total, never a delta), keep every
account's value in the database, and hand an account its proof: the tree is rebuilt from the stored
values, checked against the stored root (a mismatch is a Conflict, never a proof that would fail on
chain), and the account's value and proof are read from it. What the account has already claimed
comes from the chain, read by the caller once its transaction is over; :meth:`Entitlement.claim_json`
adds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datacoop import merkle
from datacoop.errors import Conflict

__all__ = ["Entitlement", "entitlement"]


@dataclass(frozen=True)
class Entitlement:
    """An account's cumulative entitlement under one posted root, with its proof."""

    account: str
    cumulative: int
    proof: list[str]
    root: str

    def claim_json(self, claimed: int) -> dict[str, Any]:
        """The claim fields the API shows, given what the chain says is ``claimed`` so far."""
        return {
            "account": self.account,
            "cumulative": str(self.cumulative),
            "claimed": str(claimed),
            "claimable": str(max(self.cumulative - claimed, 0)),
            "proof": self.proof,
            "root": self.root,
        }


def entitlement(
    values: Mapping[str, int], root: str, account: str, *, mismatch: str, field: str
) -> Entitlement | None:
    """``account``'s entitlement among the stored ``values`` posted as ``root``; None if it has none.

    Raises:
        Conflict: (``field``, message ``mismatch``) the stored values do not rebuild ``root``.
    """
    if account not in values:
        return None
    tree = merkle.build(sorted(values.items()))
    if tree.root != root:
        raise Conflict(mismatch, field=field)
    return Entitlement(account, values[account], tree.proofs_by_account()[account], root)
