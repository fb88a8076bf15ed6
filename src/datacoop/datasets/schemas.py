"""What the API and the CLI show of datasets, versions and withdrawals.

Only shapes: the service builds them from rows (:mod:`datacoop.datasets._public`), so the SDK
imports this module without the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from datacoop.datasets.query import DatasetQuery

__all__ = [
    "AnchorPublic",
    "DatasetCreate",
    "DatasetPublic",
    "ProofPublic",
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


class DatasetPublic(BaseModel):
    id: int
    name: str
    query: dict[str, Any]
    owner: str | None
    created_at: datetime
    token_id: str | None
    versions: list[VersionPublic]


class WithdrawalPublic(BaseModel):
    submission_id: int
    at: datetime
    effect: str = "the item leaves every dataset version created from now on; earlier versions are immutable"


class ProofPublic(BaseModel):
    """An inclusion proof of one item of a version, checkable on its own (``datacoop dataset verify``)."""

    schema_: str = Field(alias="schema", description="the proof format, datacoop.proof/1")
    manifest_cid: str
    items_root: str = Field(description="the Merkle root over the version's items")
    leaf_encoding: list[str] = Field(description="the ABI types of a leaf: (index, item hash)")
    index: int = Field(description="the item's index in the manifest")
    item_hash: str = Field(description="0x-hex keccak256 of the item's canonical JSON")
    item: dict[str, Any] = Field(description="the item as the manifest has it")
    proof: list[str] = Field(description="sibling hashes from the leaf up, 0x-hex")
