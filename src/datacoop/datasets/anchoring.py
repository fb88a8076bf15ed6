"""Anchoring versions in DatasetRegistry: the chain half of the datasets capability.

A dataset's token is minted once (``createDataset``), then each version is published under it
(``publishVersion``); both go through the chain outbox, in the caller's transaction. The receipts
of confirmed transactions are read before that transaction opens, never inside it. A version's
status moves ``pending → confirmed`` (or ``failed``) as its outbox transaction does.
:class:`DatasetAnchoring` is a part of :class:`~datacoop.datasets.service.DatasetService`, which
keeps ``sync`` and ``anchor``; the receipts are read by :mod:`datacoop.datasets.anchor`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.chain.contracts import DatasetRegistry
from datacoop.chain.setup import ChainHandle, require_chain
from datacoop.clock import Clock
from datacoop.datasets import anchor
from datacoop.datasets.schemas import VersionPublic
from datacoop.db import Database
from datacoop.db.models import ChainTx, Dataset, DatasetVersion
from datacoop.errors import Unavailable

__all__ = ["DatasetAnchoring"]

_ANCHOR_OF_TX = {"confirmed": "confirmed", "reverted": "failed", "failed": "failed"}


@dataclass(frozen=True)
class _Read:
    """What the receipts of confirmed transactions say, read from the chain before the transaction."""

    tokens: dict[str, int | None]  # createDataset tx hash -> the token id it minted
    versions: dict[str, int | None]  # publishVersion tx hash -> the version number it got


def _pending(s: Session) -> list[DatasetVersion]:
    return list(
        s.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.anchor_status == "pending")
            .order_by(DatasetVersion.dataset_id, DatasetVersion.number)
        ).all()
    )


def _confirmed_hashes(s: Session) -> tuple[list[str], list[str]]:
    """The hashes of the confirmed createDataset and publishVersion transactions pending versions wait on."""
    creates: list[str] = []
    publishes: list[str] = []
    for version in _pending(s):
        dataset = s.get(Dataset, version.dataset_id)
        assert dataset is not None
        for key, into in ((dataset.create_tx_key, creates), (version.anchor_tx_key, publishes)):
            tx = s.scalar(select(ChainTx).where(ChainTx.key == key)) if key is not None else None
            if tx is not None and tx.status == "confirmed" and tx.tx_hash and tx.tx_hash not in into:
                into.append(tx.tx_hash)
    return creates, publishes


class DatasetAnchoring:
    """Moves pending versions towards DatasetRegistry.

    Args:
        chain: the node's chain (None: this process runs without one, and both calls say so).
        version: reads a version as the API shows it (``DatasetService.version_by_id``).
    """

    def __init__(
        self,
        db: Database,
        chain: ChainHandle | None,
        *,
        clock: Clock,
        version: Callable[[int], VersionPublic],
    ) -> None:
        self._db, self._chain, self._clock, self._version = db, chain, clock, version

    def _need_chain(self) -> ChainHandle:
        return require_chain(self._chain, "nothing is anchored")

    def sync(self) -> None:
        """Move every pending version one step towards DatasetRegistry (the chain follower's work)."""
        chain = self._need_chain()
        registry = DatasetRegistry(chain.client, chain.deployment.registry)
        prefix = f"dataset:{chain.client.chain_id}:{registry.address}"
        with self._db.transaction() as s:
            creates, publishes = _confirmed_hashes(s)
        # the receipts are read with no database transaction open
        read = _Read(
            {h: anchor.created_token_id(chain.client, registry, h) for h in creates},
            {h: anchor.published_version(chain.client, registry, h) for h in publishes},
        )
        with self._db.transaction() as s:
            for version in _pending(s):
                dataset = s.get(Dataset, version.dataset_id)
                assert dataset is not None
                if dataset.token_id is None and not self._mint(
                    s, chain, registry, read, dataset, version, prefix
                ):
                    continue
                if version.anchor_tx_key is None:
                    assert dataset.token_id is not None
                    request = registry.publish_version(
                        dataset.token_id, version.manifest_cid, version.items_root, version.item_count
                    )
                    key = version.anchor_tx_key = f"{prefix}:{dataset.id}:v{version.number}"
                    chain.enqueue(s, key=key, to=request.to, data=request.data, now=self._clock())
                    continue
                self._follow(s, read, version)

    def _mint(
        self,
        s: Session,
        chain: ChainHandle,
        registry: DatasetRegistry,
        read: _Read,
        dataset: Dataset,
        version: DatasetVersion,
        prefix: str,
    ) -> bool:
        """Ask for the dataset's token (once); True once its id is known."""
        if dataset.create_tx_key is None:
            dataset.create_tx_key = f"{prefix}:{dataset.id}:create"
            request = registry.create_dataset(chain.operator.address)
            chain.enqueue(s, key=dataset.create_tx_key, to=request.to, data=request.data, now=self._clock())
            return False
        tx = s.scalar(select(ChainTx).where(ChainTx.key == dataset.create_tx_key))
        if tx is None or tx.status not in _ANCHOR_OF_TX:
            return False
        if tx.status == "confirmed" and tx.tx_hash:
            if tx.tx_hash not in read.tokens:  # confirmed since the receipts were read: next sync
                return False
            dataset.token_id = read.tokens[tx.tx_hash]
            return dataset.token_id is not None
        version.anchor_status, version.anchor_error = "failed", tx.error or "createDataset reverted"
        return False

    @staticmethod
    def _follow(s: Session, read: _Read, version: DatasetVersion) -> None:
        tx = s.scalar(select(ChainTx).where(ChainTx.key == version.anchor_tx_key))
        if tx is None:  # pragma: no cover - enqueued in the same transaction as the key
            return
        version.anchor_tx_hash = tx.tx_hash
        status = _ANCHOR_OF_TX.get(tx.status)
        if status is None:
            return
        if status == "confirmed" and tx.tx_hash and tx.tx_hash not in read.versions:
            return  # confirmed since the receipts were read: the next sync takes it
        version.anchor_status = status
        if status == "confirmed" and tx.tx_hash:
            version.chain_version = read.versions[tx.tx_hash]
        else:
            version.anchor_error = tx.error or "publishVersion reverted"

    def anchor(self, version_id: int, *, timeout: float = 120) -> VersionPublic:
        """Drive a version's anchoring until it is confirmed or failed (CLI, demo and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            view = self._version(version_id)
            if view.anchor.status in ("off", "confirmed", "failed"):
                return view
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"version {version_id} still {view.anchor.status} after {timeout}s", field="chain"
                )
            self._need_chain().wait_step()
            self.sync()
