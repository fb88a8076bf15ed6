"""Tables of datasets: datasets, frozen versions, their items, withdrawals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import Base
from datacoop.db.types import Uint256

__all__ = ["Dataset", "DatasetItem", "DatasetVersion", "Withdrawal"]


class Dataset(Base):
    """A dataset: a query over accepted items, frozen into immutable versions (datasets/service.py)."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), index=True)  # None: operator
    query: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    token_id: Mapped[int | None] = mapped_column(Uint256)  # its DatasetRegistry token, once created on chain
    create_tx_key: Mapped[str | None] = mapped_column(String(200))


class DatasetVersion(Base):
    """One frozen version: its manifest blob, Merkle root and where its anchoring on chain stands."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_dataset_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    manifest_cid: Mapped[str] = mapped_column(ForeignKey("blobs.cid"))
    items_root: Mapped[str] = mapped_column(String(66))
    item_count: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    anchor_status: Mapped[str] = mapped_column(String(16))  # off | pending | confirmed | failed
    anchor_tx_key: Mapped[str | None] = mapped_column(String(200))
    anchor_tx_hash: Mapped[str | None] = mapped_column(String(66))
    chain_version: Mapped[int | None] = mapped_column(Integer)  # its number in DatasetRegistry
    anchor_error: Mapped[str | None] = mapped_column(Text)


class DatasetItem(Base):
    """A submission in a version, at its manifest index (what the next version is compared with)."""

    __tablename__ = "dataset_items"

    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class Withdrawal(Base):
    """A contributor's withdrawal of consent: the item leaves every later version."""

    __tablename__ = "withdrawals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
