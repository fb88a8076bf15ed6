"""The order rows that both halves of the exchange read: lookups and an order's JSON shape.

Shared by :mod:`datacoop.exchange.orders` (recording a purchase) and
:mod:`datacoop.exchange.access` (its delivery), so that neither imports the other.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from datacoop.db.models import Listing, Order
from datacoop.errors import Forbidden, NotFound
from datacoop.exchange.schemas import OrderPublic, WithheldItem
from datacoop.identity.schemas import Caller

__all__ = ["listing_row", "order_json", "own_order"]


def listing_row(s: Session, listing_id: int) -> Listing:
    row = s.get(Listing, listing_id)
    if row is None:
        raise NotFound(f"there is no listing {listing_id}", field="listing_id")
    return row


def own_order(s: Session, who: Caller, order_id: int) -> Order:
    row = s.get(Order, order_id)
    if row is None:
        raise NotFound(f"there is no order {order_id}", field="order_id")
    if row.buyer_id != who.id:
        raise Forbidden(f"order {order_id} is not yours", field="order_id")
    return row


def order_json(row: Order) -> OrderPublic:
    return OrderPublic(
        id=row.id,
        listing_id=row.listing_id,
        buyer=row.buyer,
        tx_hash=row.tx_hash,
        licence_id=str(row.licence_id),
        expires=row.expires,
        amount=str(row.amount),
        royalty=str(row.royalty),
        publisher_share=str(row.publisher_share),
        operator_fee=str(row.operator_fee),
        jurisdiction=row.jurisdiction,
        purpose=row.purpose,
        safeguards=row.safeguards,
        granted=[int(i) for i in row.granted],
        withheld={k: WithheldItem.model_validate(v) for k, v in row.withheld.items()},
    )
