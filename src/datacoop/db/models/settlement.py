"""Tables of settlement: task funding, epochs, entitlements, earnings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import _OPEN, Base
from datacoop.db.types import Uint256

__all__ = ["Earning", "Epoch", "EpochEntitlement", "TaskFunding"]


class TaskFunding(Base):
    """A task's budget on chain: the TaskEscrow task the requester opened for it."""

    __tablename__ = "task_funding"
    __table_args__ = (
        UniqueConstraint("chain_id", "escrow", "escrow_task_id", name="uq_task_funding_escrow_task"),
    )

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    escrow: Mapped[str] = mapped_column(String(42))
    escrow_task_id: Mapped[int] = mapped_column(Uint256)
    token: Mapped[str] = mapped_column(String(42))
    linked_at: Mapped[datetime]


class Epoch(Base):
    """One posting of a task's cumulative entitlements: pending → posted → confirmed (or failed)."""

    __tablename__ = "epochs"
    __table_args__ = (
        Index("ix_epochs_task_number", "task_id", "number"),
        # One epoch of a task is posting at a time: a second close at the same moment fails here.
        Index("uq_epochs_one_open", "task_id", unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    number: Mapped[int] = mapped_column(Integer)  # the epoch on chain; a failed attempt's number is reused
    status: Mapped[str] = mapped_column(String(16), index=True)
    root: Mapped[str] = mapped_column(String(66))
    total: Mapped[int] = mapped_column(Uint256)  # cumulative, as posted on chain
    added: Mapped[int] = mapped_column(Uint256)  # what this epoch adds
    earnings: Mapped[int] = mapped_column(Integer)
    shortfall: Mapped[int] = mapped_column(Uint256)  # earnings left waiting for a top-up
    tx_key: Mapped[str] = mapped_column(String(200), unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EpochEntitlement(Base):
    """An account's cumulative entitlement in one epoch's tree (the tree is rebuilt from these)."""

    __tablename__ = "epoch_entitlements"

    epoch_id: Mapped[int] = mapped_column(ForeignKey("epochs.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(42), primary_key=True, index=True)
    cumulative: Mapped[int] = mapped_column(Uint256)


class Earning(Base):
    """What one accepted item or one useful vote earns its author; an epoch takes it exactly once."""

    __tablename__ = "earnings"
    __table_args__ = (
        UniqueConstraint("kind", "source_id", "account", name="uq_earnings_kind_source_account"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    account: Mapped[str] = mapped_column(String(42), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # item | vote
    source_id: Mapped[int] = mapped_column(Integer)  # the submission (item) or the vote
    amount: Mapped[int] = mapped_column(Uint256)
    epoch_id: Mapped[int | None] = mapped_column(ForeignKey("epochs.id"), index=True)
    created_at: Mapped[datetime]
