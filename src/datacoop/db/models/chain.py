"""Tables of the chain adapter: the transaction outbox and its writer's lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import Base
from datacoop.db.types import Uint256

__all__ = ["ChainLease", "ChainTx"]


class ChainTx(Base):
    """A transaction DataCoop means to send: the transactional outbox.


    Written in the same database transaction as the change that wants it, keyed
    by an idempotency key, so a restart can never make a second transaction for
    the same intent. The relay gives it a nonce once, stores the signed bytes
    before broadcasting, and re-broadcasts or fee-bumps under that same nonce.
    """

    __tablename__ = "chain_txs"
    __table_args__ = (
        UniqueConstraint("chain_id", "sender", "nonce", name="uq_chain_txs_sender_nonce"),
        Index("ix_chain_txs_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(42))
    to: Mapped[str | None] = mapped_column(String(42))  # None deploys a contract
    data: Mapped[str] = mapped_column(Text)
    value: Mapped[int] = mapped_column(Uint256)
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    gas_limit: Mapped[int | None] = mapped_column(BigInteger)
    max_fee: Mapped[int | None] = mapped_column(Uint256)
    priority_fee: Mapped[int | None] = mapped_column(Uint256)
    raw: Mapped[str | None] = mapped_column(Text)  # the signed bytes last broadcast
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    hashes: Mapped[list[str]]  # every hash sent under this nonce: any of them may be mined
    status: Mapped[str] = mapped_column(String(16))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    contract_address: Mapped[str | None] = mapped_column(String(42))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Optimistic lock: a writer that read an older version of the row fails its UPDATE (StaleDataError)
    # instead of overwriting a newer nonce, signature or status.
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper


class ChainLease(Base):
    """Who may write the outbox now: one holder at a time, until ``expires_at`` unless renewed."""

    __tablename__ = "chain_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
