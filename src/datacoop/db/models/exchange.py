"""Tables of the exchange: listings, orders, royalty rounds and entitlements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import _OPEN, Base
from datacoop.db.types import Uint256

__all__ = ["Listing", "Order", "RoyaltyEntitlement", "RoyaltyRound"]


class Listing(Base):
    """A dataset version offered for sale on LicenseMarket (exchange/ lists and sells it)."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))  # None: operator
    title: Mapped[str] = mapped_column(String(200))
    modality: Mapped[str] = mapped_column(String(16), index=True)
    item_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    origins: Mapped[list[str]]  # the items' jurisdictions of origin
    token: Mapped[str] = mapped_column(String(42))
    price: Mapped[int] = mapped_column(Uint256)
    licence: Mapped[str] = mapped_column(String(100), index=True)
    terms_text: Mapped[str] = mapped_column(Text)
    terms_hash: Mapped[str] = mapped_column(String(66))
    duration_s: Mapped[int] = mapped_column(BigInteger)
    royalty_bps: Mapped[int] = mapped_column(Integer)
    access_modes: Mapped[list[str]]
    jurisdictions: Mapped[list[str]]  # buyer jurisdictions offered to; ["*"]: anywhere
    data_category: Mapped[str] = mapped_column(String(32))
    consent_scope: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # pending | listed | failed
    tx_key: Mapped[str] = mapped_column(String(200), unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    market_listing_id: Mapped[int | None] = mapped_column(Uint256)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Order(Base):
    """A licence bought on chain and the access it grants (the compliant items only)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    buyer: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    licence_id: Mapped[int] = mapped_column(Uint256, unique=True)
    expires: Mapped[int] = mapped_column(BigInteger)  # unix seconds, from the LicenceSold event
    amount: Mapped[int] = mapped_column(Uint256)
    royalty: Mapped[int] = mapped_column(Uint256)
    publisher_share: Mapped[int] = mapped_column(Uint256)
    operator_fee: Mapped[int] = mapped_column(Uint256)
    jurisdiction: Mapped[str] = mapped_column(String(2))
    purpose: Mapped[str] = mapped_column(String(100))
    safeguards: Mapped[list[str]]
    granted: Mapped[list[str]]  # manifest indices (as text) the buyer may download
    withheld: Mapped[dict[str, Any]]  # manifest index -> {outcome, rule, legal_basis, explanation}
    forward_tx_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class RoyaltyRound(Base):
    """One posting of a listing's cumulative royalty root (like settlement's epochs)."""

    __tablename__ = "royalty_rounds"
    __table_args__ = (
        # One round of a listing is posting at a time: a second opened at the same moment fails here.
        Index("uq_royalty_rounds_one_open", "listing_id", unique=True, sqlite_where=_OPEN,
              postgresql_where=_OPEN),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # pending | posted | confirmed | failed
    credited: Mapped[int] = mapped_column(Uint256)  # the pool's credited royalties this root shares out
    total: Mapped[int] = mapped_column(Uint256)
    root: Mapped[str] = mapped_column(String(66))
    tx_key: Mapped[str] = mapped_column(String(200), unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoyaltyEntitlement(Base):
    """A contributor's cumulative royalty in one round."""

    __tablename__ = "royalty_entitlements"

    round_id: Mapped[int] = mapped_column(ForeignKey("royalty_rounds.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(42), primary_key=True, index=True)
    cumulative: Mapped[int] = mapped_column(Uint256)
