"""Settlement arithmetic: what one epoch pays, and the cumulative entitlements it posts.

Earnings (one per accepted item for its contributor, one per useful vote for its
validator) wait until an epoch takes them. An epoch takes them oldest first while
the task's escrow still covers them; the rest waits for a top-up, in order, so an
earning is never skipped for a later, smaller one. Entitlements only grow: each
account's cumulative amount is the previous epoch's plus what this epoch takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from datacoop.identity.addresses import normalize_address

__all__ = ["Allocation", "Earning", "allocate"]


@dataclass(frozen=True)
class Earning:
    id: int
    account: str
    amount: int

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"earning {self.id}: amount must not be negative, got {self.amount}")


@dataclass(frozen=True)
class Allocation:
    """What an epoch takes, what waits, and the entitlements it posts."""

    taken: tuple[Earning, ...]
    waiting: tuple[Earning, ...]
    entitlements: dict[str, int] = field(default_factory=dict)  # cumulative, every account so far
    total: int = 0  # the sum of all cumulative entitlements: the root's total on chain

    @property
    def added(self) -> int:
        return sum(e.amount for e in self.taken)

    @property
    def shortfall(self) -> int:
        """What the requester must add to the escrow for everything waiting to be paid."""
        return sum(e.amount for e in self.waiting)


def allocate(previous: Mapping[str, int], earnings: Iterable[Earning], *, funded: int) -> Allocation:
    """Take earnings in id order while ``total`` stays within ``funded``; the first that does not fit stops.

    ``previous`` is the last posted epoch's cumulative entitlements (empty for the first epoch).
    """
    entitlements = {normalize_address(a): int(v) for a, v in previous.items()}
    total = sum(entitlements.values())
    if total > funded:
        raise ValueError(f"the posted total {total} already exceeds the funded budget {funded}")
    ordered: Sequence[Earning] = sorted(earnings, key=lambda e: e.id)
    taken: list[Earning] = []
    for position, earning in enumerate(ordered):
        if total + earning.amount > funded:
            return Allocation(tuple(taken), tuple(ordered[position:]), entitlements, total)
        account = normalize_address(earning.account)
        entitlements[account] = entitlements.get(account, 0) + earning.amount
        total += earning.amount
        taken.append(earning)
    return Allocation(tuple(taken), (), entitlements, total)
