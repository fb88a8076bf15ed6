"""Royalties: a listing's pool shared among the contributors of its version, through cumulative roots.

Each sale credits ``price * royaltyBps // 10000`` to the listing's pool on chain. A round
recomputes every contributor's *cumulative* share from everything credited so far::

    share(a) = credited * items(a) // items(version)

Rounding down keeps the sum at or below what was credited; what the floors leave (the dust,
fewer base units than there are contributors) stays in the pool and is not lost: the next round
recomputes from the larger credited total, so dust is paid out as sales accumulate. Shares only
grow with ``credited``, so a posted root never takes back what an earlier one granted.

A round is one database transaction that writes the round, its entitlements and the
``postRoyaltyRoot`` outbox record, as settlement's epochs do; its status follows the record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from datacoop import merkle
from datacoop.chain.contracts import LicenseMarket
from datacoop.chain.outbox import POSTING_STATUS
from datacoop.chain.setup import ChainHandle
from datacoop.db.models import ChainTx, Listing, RoyaltyEntitlement, RoyaltyRound
from datacoop.errors import Conflict
from datacoop.exchange.schemas import RoyaltyRoundPublic
from datacoop.identity.addresses import normalize_address

__all__ = ["OPEN", "contributor_counts", "open_round", "round_json", "shares", "sync_rounds"]

OPEN = ("pending", "posted")
_STATUS_OF_TX = POSTING_STATUS


def contributor_counts(contributors: Iterable[str]) -> dict[str, int]:
    """Items per contributor address, from the manifest's ``did:pkh:…:0x…`` contributors."""
    return dict(Counter(normalize_address(c.rsplit(":", 1)[-1]) for c in contributors))


def shares(credited: int, counts: Mapping[str, int]) -> dict[str, int]:
    """Each contributor's cumulative royalty out of ``credited`` (floors: the sum never exceeds it)."""
    items = sum(counts.values())
    if credited < 0 or items <= 0:
        raise ValueError(f"need credited >= 0 and at least one item, got {credited} and {items}")
    return {account: credited * n // items for account, n in counts.items()}


def last_confirmed(s: Session, listing_id: int) -> RoyaltyRound | None:
    return s.scalar(
        select(RoyaltyRound)
        .where(RoyaltyRound.listing_id == listing_id, RoyaltyRound.status == "confirmed")
        .order_by(RoyaltyRound.number.desc())
        .limit(1)
    )


def entitlements(s: Session, round_id: int) -> dict[str, int]:
    rows = s.execute(
        select(RoyaltyEntitlement.account, RoyaltyEntitlement.cumulative).where(
            RoyaltyEntitlement.round_id == round_id
        )
    ).all()
    return {a: int(v) for a, v in rows}


def open_round(
    s: Session,
    chain: ChainHandle,
    market: LicenseMarket,
    listing: Listing,
    counts: Mapping[str, int],
    credited: int,
    now: datetime,
) -> RoyaltyRound | None:
    """Write the listing's next round and enqueue its root; None when nothing new was credited.

    ``credited`` is the pool's credited total, read from the chain by the caller before its
    transaction (never while this one is open); it only grows, so an older reading shares less
    than is there, never more, and the next round shares the rest.
    """
    assert listing.market_listing_id is not None
    busy = s.scalar(
        select(RoyaltyRound).where(RoyaltyRound.listing_id == listing.id, RoyaltyRound.status.in_(OPEN))
    )
    if busy is not None:
        raise Conflict(
            f"royalty round {busy.number} of listing {listing.id} is still {busy.status}; "
            "the next one opens after it is confirmed",
            field="listing_id",
        )
    last = last_confirmed(s, listing.id)
    if credited == 0 or (last is not None and credited <= last.credited):
        return None
    values = {a: v for a, v in shares(credited, counts).items() if v > 0}
    if not values:
        return None
    tree = merkle.build(sorted(values.items()))
    number = (last.number if last else 0) + 1
    row = RoyaltyRound(
        listing_id=listing.id, number=number, status="pending", credited=credited,
        total=sum(values.values()), root=tree.root, tx_key="", created_at=now, updated_at=now,
    )  # fmt: skip
    s.add(row)
    try:
        s.flush()
    except IntegrityError:  # another round of this listing was opened at the same moment (one open each)
        raise Conflict(
            f"a royalty round of listing {listing.id} is already open", field="listing_id"
        ) from None
    row.tx_key = (
        f"royalty:{chain.client.chain_id}:{market.address}:{listing.market_listing_id}:{number}:{row.id}"
    )
    s.add_all(RoyaltyEntitlement(round_id=row.id, account=a, cumulative=v) for a, v in values.items())
    req = market.post_royalty_root(listing.market_listing_id, number, tree.root, row.total)
    chain.enqueue(s, key=row.tx_key, to=req.to, data=req.data, now=now)
    s.flush()
    return row


def sync_rounds(s: Session, now: datetime) -> None:
    """Bring every open round's status in line with its outbox record."""
    for row in s.scalars(select(RoyaltyRound).where(RoyaltyRound.status.in_(OPEN))).all():
        tx = s.scalar(select(ChainTx).where(ChainTx.key == row.tx_key))
        if tx is None:  # pragma: no cover - written in the same transaction as the round
            continue
        status = _STATUS_OF_TX[tx.status]
        if (status, tx.tx_hash) != (row.status, row.tx_hash):
            row.status, row.tx_hash, row.updated_at = status, tx.tx_hash, now
            if status == "failed":
                row.error = tx.error or "postRoyaltyRoot reverted"


def round_json(row: RoyaltyRound) -> RoyaltyRoundPublic:
    return RoyaltyRoundPublic(
        listing_id=row.listing_id,
        round=row.number,
        status=row.status,
        credited=str(row.credited),
        total=str(row.total),
        dust=str(row.credited - row.total),
        root=row.root,
        tx_hash=row.tx_hash,
        error=row.error,
    )
