"""What the node read from the chain about contributors' accounts: who first sent each one ETH."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import Base

__all__ = ["AccountFunder"]


class AccountFunder(Base):
    """The first account seen sending ETH to ``address``, within the blocks scanned so far (a cache)."""

    __tablename__ = "account_funders"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)  # EIP-55 checksummed
    funder: Mapped[str | None] = mapped_column(String(42), index=True)  # None: none seen yet
    scanned_from: Mapped[int] = mapped_column(BigInteger)  # the first block scanned
    scanned_to: Mapped[int] = mapped_column(BigInteger)  # the last block scanned
    checked_at: Mapped[datetime]
