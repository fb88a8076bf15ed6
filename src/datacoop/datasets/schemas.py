"""What the API and the CLI show of datasets, versions and withdrawals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from datacoop.datasets.query import DatasetQuery
from datacoop.db.models import Dataset, DatasetVersion, Withdrawal

__all__ = [
    "AnchorPublic",
    "DatasetCreate",
    "DatasetPublic",
    "VersionCreate",
    "VersionPublic",
    "WithdrawalCreate",
    "WithdrawalPublic",
]

ANCHOR_MEANING = {
    "off": "not anchored: this node runs without a chain",
    "pending": "waiting for the DatasetRegistry transaction",
    "confirmed": "published in DatasetRegistry",
    "failed": "the DatasetRegistry transaction failed",
}


class DatasetCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    query: DatasetQuery


class VersionCreate(BaseModel):
    query: DatasetQuery | None = Field(default=None, description="replaces the dataset's query from now on")


class WithdrawalCreate(BaseModel):
    reason: str = Field(default="", max_length=2000, description="kept by the node, never published")


class AnchorPublic(BaseModel):
    status: str
    meaning: str
    tx_hash: str | None
    token_id: str | None
    chain_version: int | None
    error: str | None


class VersionPublic(BaseModel):
    id: int
    dataset_id: int
    number: int
    manifest_cid: str
    items_root: str
    item_count: int
    changes: dict[str, Any]
    created_at: datetime
    anchor: AnchorPublic

    @classmethod
    def of(cls, row: DatasetVersion, token_id: int | None) -> VersionPublic:
        return cls(
            id=row.id,
            dataset_id=row.dataset_id,
            number=row.number,
            manifest_cid=row.manifest_cid,
            items_root=row.items_root,
            item_count=row.item_count,
            changes=row.changes,
            created_at=row.created_at,
            anchor=AnchorPublic(
                status=row.anchor_status,
                meaning=ANCHOR_MEANING[row.anchor_status],
                tx_hash=row.anchor_tx_hash,
                token_id=None if token_id is None else str(token_id),
                chain_version=row.chain_version,
                error=row.anchor_error,
            ),
        )


class DatasetPublic(BaseModel):
    id: int
    name: str
    query: dict[str, Any]
    owner: str | None
    created_at: datetime
    token_id: str | None
    versions: list[VersionPublic]

    @classmethod
    def of(cls, row: Dataset, owner: str | None, versions: list[DatasetVersion]) -> DatasetPublic:
        return cls(
            id=row.id,
            name=row.name,
            query=row.query,
            owner=owner,
            created_at=row.created_at,
            token_id=None if row.token_id is None else str(row.token_id),
            versions=[VersionPublic.of(v, row.token_id) for v in versions],
        )


class WithdrawalPublic(BaseModel):
    submission_id: int
    at: datetime
    effect: str = "the item leaves every dataset version created from now on; earlier versions are immutable"

    @classmethod
    def of(cls, row: Withdrawal) -> WithdrawalPublic:
        return cls(submission_id=row.submission_id, at=row.at)
