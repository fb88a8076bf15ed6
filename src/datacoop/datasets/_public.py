"""Rows → the shapes the API shows (:mod:`datacoop.datasets.schemas`).

These converters live beside the service, not on the shapes, so that ``schemas`` (which the SDK
imports) never loads the database models.
"""

from __future__ import annotations

from datacoop.datasets.schemas import (
    ANCHOR_MEANING,
    AnchorPublic,
    DatasetPublic,
    VersionPublic,
    WithdrawalPublic,
)
from datacoop.db.models import Dataset, DatasetVersion, Withdrawal

__all__ = ["dataset_public", "version_public", "withdrawal_public"]


def version_public(row: DatasetVersion, token_id: int | None) -> VersionPublic:
    """One version with its anchoring status; ``token_id`` is its dataset's token (None: not minted)."""
    return VersionPublic(
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


def dataset_public(row: Dataset, owner: str | None, versions: list[DatasetVersion]) -> DatasetPublic:
    """A dataset with its owner's address (None: the operator's) and its versions, oldest first."""
    return DatasetPublic(
        id=row.id,
        name=row.name,
        query=row.query,
        owner=owner,
        created_at=row.created_at,
        token_id=None if row.token_id is None else str(row.token_id),
        versions=[version_public(v, row.token_id) for v in versions],
    )


def withdrawal_public(row: Withdrawal) -> WithdrawalPublic:
    return WithdrawalPublic(submission_id=row.submission_id, at=row.at)
