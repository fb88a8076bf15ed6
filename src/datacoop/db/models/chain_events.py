"""Tables of the chain watcher: how far it has read, the recent blocks it saw, and the events it kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import Base

__all__ = ["ChainCursor", "ChainEvent", "ChainHeader"]


class ChainCursor(Base):
    """The last block a watcher processed for one deployment on one chain (its number and hash)."""

    __tablename__ = "chain_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # "<chain id>:<deployment key>"
    chain_id: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)  # first block to read, minus one, when fresh
    block_hash: Mapped[str] = mapped_column(String(66))
    head: Mapped[int] = mapped_column(BigInteger)  # the chain's head when the watcher last looked
    reorgs: Mapped[int] = mapped_column(Integer)  # reorgs seen and rolled back
    deep_reorgs: Mapped[int] = mapped_column(Integer)  # of which reached past the confirmation depth
    updated_at: Mapped[datetime]


class ChainHeader(Base):
    """A recent block the watcher processed: its hash tells a reorg when the chain's differs."""

    __tablename__ = "chain_headers"

    cursor: Mapped[str] = mapped_column(ForeignKey("chain_cursors.name"), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(66))


class ChainEvent(Base):
    """A decoded log of a deployment's contract, in a block the watcher processed (deleted if reorged)."""

    __tablename__ = "chain_events"
    __table_args__ = (
        # The same log is kept once, whatever crashes and restarts in between.
        UniqueConstraint("chain_id", "block_hash", "log_index", name="uq_chain_events_log"),
        Index("ix_chain_events_cursor_block", "cursor", "block_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cursor: Mapped[str] = mapped_column(ForeignKey("chain_cursors.name"))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    tx_hash: Mapped[str] = mapped_column(String(66), index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(42))
    contract: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60), index=True)
    args: Mapped[dict[str, Any]]  # uint as decimal text, bytes as 0x-hex, addresses checksummed
