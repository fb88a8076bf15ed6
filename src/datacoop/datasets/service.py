"""Datasets: freezing versions, withdrawals, and (through :mod:`datacoop.datasets.anchoring`)
anchoring versions in DatasetRegistry.

A version is written once: its manifest is stored as a blob (bytes first, then rows, in one
transaction) and never changes; only its anchoring status moves, ``pending → confirmed``
(or ``failed``), following its outbox transaction. With chain = "off" it says ``off``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.chain.setup import ChainHandle
from datacoop.clock import Clock, utc_now
from datacoop.datasets._public import dataset_public, version_public, withdrawal_public
from datacoop.datasets.anchoring import DatasetAnchoring
from datacoop.datasets.export import ExportResult, Progress
from datacoop.datasets.exporting import DOWNLOADS, ExportOptions, TarArchive, export, order_archive
from datacoop.datasets.manifest import Manifest
from datacoop.datasets.query import DatasetQuery, parse_query
from datacoop.datasets.schemas import DatasetPublic, VersionPublic, WithdrawalPublic
from datacoop.datasets.verify import make_proof
from datacoop.datasets.versions import (
    LabelReader,
    Selected,
    labels_for,
    removal_reason,
    reviews_for,
    select_items,
    to_items,
)
from datacoop.db import Database
from datacoop.db.models import (
    Dataset,
    DatasetItem,
    DatasetVersion,
    Participant,
    Submission,
    Task,
    Withdrawal,
)
from datacoop.errors import Conflict, Forbidden, InvalidInput, NotFound
from datacoop.identity.eip712 import Eip712Domain
from datacoop.identity.schemas import Caller
from datacoop.storage import BlobStore
from datacoop.tasks.blobs import BlobService
from datacoop.webhooks import events

__all__ = ["DatasetService"]


class DatasetService:
    """Datasets of one node.

    Args:
        anchoring: whether versions are to be published on chain (the node has a chain configured,
            even where this process runs without it, e.g. the CLI on a data directory).
        labels, reviews: readers of review labels and outcomes (see :mod:`datacoop.datasets.versions`).
    """

    def __init__(
        self,
        db: Database,
        store: BlobStore,
        blobs: BlobService,
        domain: Eip712Domain,
        *,
        chain: ChainHandle | None = None,
        anchoring: bool = False,
        clock: Clock = utc_now,
        labels: LabelReader = labels_for,
        reviews: LabelReader = reviews_for,
    ) -> None:
        self._db, self._store, self._blobs, self._domain = db, store, blobs, domain
        self._anchoring = anchoring or chain is not None
        self._clock, self._labels, self._reviews = clock, labels, reviews
        self._anchorer = DatasetAnchoring(db, chain, clock=clock, version=self.version_by_id)

    # --- datasets -----------------------------------------------------------------------------

    def create(self, who: Caller | None, name: str, query: dict[str, Any]) -> DatasetPublic:
        """A dataset over ``query``; ``who`` must be the requester of every task it names (None: operator)."""
        parsed = parse_query(query)
        if not name or len(name) > 200:
            raise InvalidInput("name must be 1 to 200 characters", field="name", limit=200)
        with self._db.transaction() as s:
            self._check_tasks(s, who, parsed)
            row = Dataset(
                name=name, owner_id=who.id if who else None, query=parsed.to_json(), created_at=self._clock()
            )
            s.add(row)
            s.flush()
            return self._public(s, row)

    @staticmethod
    def _check_tasks(s: Session, who: Caller | None, query: DatasetQuery) -> None:
        tasks = {t.id: t for t in s.scalars(select(Task).where(Task.id.in_(query.task_ids)))}
        missing = [i for i in query.task_ids if i not in tasks]
        if missing:
            raise NotFound(f"there is no task {missing[0]}", field="query.task_ids")
        foreign = [i for i, t in tasks.items() if who is not None and t.requester_id != who.id]
        if foreign:
            raise Forbidden(
                f"task {foreign[0]} is not yours: only its requester makes datasets of it",
                field="query.task_ids",
            )

    def list_all(self, *, after: int | None = None, limit: int | None = None) -> list[DatasetPublic]:
        """Datasets after id ``after`` (a keyset page), oldest first, at most ``limit``."""
        query = select(Dataset).order_by(Dataset.id)
        if after is not None:
            query = query.where(Dataset.id > after)
        with self._db.transaction() as s:
            return [self._public(s, d) for d in s.scalars(query.limit(limit))]

    def get(self, dataset_id: int) -> DatasetPublic:
        with self._db.transaction() as s:
            return self._public(s, self._dataset(s, dataset_id))

    @staticmethod
    def _dataset(s: Session, dataset_id: int) -> Dataset:
        row = s.get(Dataset, dataset_id)
        if row is None:
            raise NotFound(f"there is no dataset {dataset_id}", field="dataset_id")
        return row

    @staticmethod
    def _public(s: Session, row: Dataset) -> DatasetPublic:
        owner = s.get(Participant, row.owner_id) if row.owner_id is not None else None
        versions = s.scalars(
            select(DatasetVersion).where(DatasetVersion.dataset_id == row.id).order_by(DatasetVersion.number)
        ).all()
        return dataset_public(row, owner.address if owner else None, list(versions))

    # --- versions -----------------------------------------------------------------------------

    def create_version(
        self, dataset_id: int, who: Caller | None = None, query: dict[str, Any] | None = None
    ) -> VersionPublic:
        """Freeze the dataset's (or the given) query into a new immutable version.

        Raises:
            NotFound, Forbidden: no such dataset, or ``who`` is not its owner.
            Conflict: nothing changed since the previous version.
            InvalidInput: the query selects nothing, or items of several licences without ``query.licence``.
        """
        now = self._clock()
        with self._db.transaction() as s:
            dataset = self._own_dataset_locked(s, dataset_id, who)
            parsed = self._version_query(s, dataset, who, query)
            selected, licence = self._select(s, parsed)
            previous = self._latest(s, dataset_id)
            changes = self._changes(s, previous, [item.submission_id for item in selected])
            manifest = self._manifest(dataset, parsed, selected, licence, previous, changes, now)
            row = self._store_version(s, manifest, selected, changes, now)
            events.version_frozen(s, row, parsed.task_ids, now)
            return version_public(row, dataset.token_id)

    @staticmethod
    def _own_dataset_locked(s: Session, dataset_id: int, who: Caller | None) -> Dataset:
        """The dataset, locked until the version is written; ``who`` (None: operator) must own it."""
        dataset = s.get(Dataset, dataset_id, with_for_update=True)
        if dataset is None:
            raise NotFound(f"there is no dataset {dataset_id}", field="dataset_id")
        if who is not None and dataset.owner_id != who.id:
            raise Forbidden(f"dataset {dataset_id} is not yours", field="dataset_id")
        return dataset

    def _version_query(
        self, s: Session, dataset: Dataset, who: Caller | None, query: dict[str, Any] | None
    ) -> DatasetQuery:
        """The dataset's query, or ``query``, which then replaces it from now on."""
        parsed = parse_query(query if query is not None else dataset.query)
        if query is not None:
            self._check_tasks(s, who, parsed)
            dataset.query = parsed.to_json()
        return parsed

    def _select(self, s: Session, parsed: DatasetQuery) -> tuple[list[Selected], str]:
        """The accepted items the query selects (at least one), and their one licence."""
        selected, licences = select_items(
            s,
            parsed,
            chain_id=self._domain.chain_id,
            blob_size=self._blob_size,
            labels=self._labels,
            reviews=self._reviews,
        )
        if not selected:
            raise InvalidInput("the query selects no accepted item", field="query")
        return selected, parsed.licence or _one_licence(licences)

    def _manifest(
        self,
        dataset: Dataset,
        parsed: DatasetQuery,
        selected: list[Selected],
        licence: str,
        previous: DatasetVersion | None,
        changes: dict[str, Any],
        now: datetime,
    ) -> Manifest:
        return Manifest.create(
            items=to_items(selected),
            dataset_id=dataset.id,
            name=dataset.name,
            version=previous.number + 1 if previous else 1,
            created_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            query=parsed.to_json(),
            licence=licence,
            eip712_domain=self._domain.as_dict(),
            previous=previous.manifest_cid if previous else None,
            changes=changes,
        )

    def _store_version(
        self, s: Session, manifest: Manifest, selected: list[Selected], changes: dict[str, Any], now: datetime
    ) -> DatasetVersion:
        """The manifest's bytes as a blob, then the version's row and its items (bytes first, then rows)."""
        blob = self._blobs.put_file_bytes([manifest.to_bytes()], None)
        row = DatasetVersion(
            dataset_id=manifest.dataset_id,
            number=manifest.version,
            manifest_cid=blob.cid,
            items_root=manifest.items_root,
            item_count=manifest.item_count,
            changes=changes,
            created_at=now,
            anchor_status="pending" if self._anchoring else "off",
        )
        s.add(row)
        s.flush()
        s.add_all(
            DatasetItem(version_id=row.id, submission_id=item.submission_id, position=i)
            for i, item in enumerate(selected)
        )
        return row

    def _blob_size(self, cid: str) -> int:
        return self._store.stat(cid).size

    @staticmethod
    def _latest(s: Session, dataset_id: int) -> DatasetVersion | None:
        return s.scalar(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset_id)
            .order_by(DatasetVersion.number.desc())
            .limit(1)
        )

    @staticmethod
    def _changes(s: Session, previous: DatasetVersion | None, ids: list[int]) -> dict[str, Any]:
        before: set[int] = set()
        if previous is not None:
            before = set(
                s.scalars(select(DatasetItem.submission_id).where(DatasetItem.version_id == previous.id))
            )
        current = set(ids)
        removed = [{"submission_id": i, "reason": removal_reason(s, i)} for i in sorted(before - current)]
        changes: dict[str, Any] = {"added": sorted(current - before), "removed": removed}
        if previous is not None and not changes["added"] and not removed:
            raise Conflict(f"nothing changed since version {previous.number}", field="dataset_id")
        return changes

    def version(self, dataset_id: int, number: int) -> VersionPublic:
        with self._db.transaction() as s:
            dataset = self._dataset(s, dataset_id)
            row = s.scalar(
                select(DatasetVersion).where(
                    DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == number
                )
            )
            if row is None:
                raise NotFound(f"dataset {dataset_id} has no version {number}", field="number")
            return version_public(row, dataset.token_id)

    def version_by_id(self, version_id: int) -> VersionPublic:
        with self._db.transaction() as s:
            row = self._version_row(s, version_id)
            return version_public(row, self._dataset(s, row.dataset_id).token_id)

    @staticmethod
    def _version_row(s: Session, version_id: int) -> DatasetVersion:
        row = s.get(DatasetVersion, version_id)
        if row is None:
            raise NotFound(f"there is no dataset version {version_id}", field="version_id")
        return row

    def export(
        self,
        version_id: int,
        format_name: str,
        out_dir: Path,
        *,
        options: ExportOptions | None = None,
        progress: Progress | None = None,
    ) -> ExportResult:
        """Write the version as ``format_name`` into ``out_dir`` (see :mod:`datacoop.datasets.exporting`).

        Raises:
            NotFound: (``version_id``) no such version.
            InvalidInput: an unknown format, or an option the format does not take (named).
        """
        manifest_cid = self.version_by_id(version_id).manifest_cid
        manifest = Manifest.from_bytes(b"".join(self._store.iter_bytes(manifest_cid)))
        return export(
            manifest,
            manifest_cid,
            format_name,
            out_dir,
            store=self._store,
            options=options,
            progress=progress,
        )

    def export_file(self, version_id: int, format_name: str, folder: Path) -> tuple[Path, str, str]:
        """Write one file describing the version into ``folder`` (``datasheet``, ``croissant`` or
        metadata-only ``parquet``); returns its path, its media type and the name to download it as.

        Raises:
            InvalidInput: (``format``) a format that is not one file; the CLI exports every format.
        """
        if format_name not in DOWNLOADS:
            raise InvalidInput(
                f"format must be one of {', '.join(DOWNLOADS)} here (the CLI exports every format), "
                f"got {format_name!r}",
                field="format",
            )
        version = self.version_by_id(version_id)
        result = self.export(version_id, format_name, folder)
        suffix, media = DOWNLOADS[format_name]
        path = next(f for f in result.files if f.name.endswith(suffix))
        return (
            path,
            media,
            f"dataset-{version.dataset_id}-v{version.number}-{path.name.removeprefix('dataset-')}",
        )

    def export_archive(
        self, version_id: int, granted: list[int], head: list[tuple[str, bytes]]
    ) -> TarArchive:
        """The tar of an order of the version, readable from any byte (see ``exporting.order_archive``)."""
        return order_archive(self.manifest(version_id), granted, head, self._store)

    def manifest_bytes(self, version_id: int) -> bytes:
        """The manifest exactly as stored (its CID is the version's ``manifest_cid``)."""
        cid = self.version_by_id(version_id).manifest_cid
        return b"".join(self._store.iter_bytes(cid))

    def manifest(self, version_id: int) -> Manifest:
        return Manifest.from_bytes(self.manifest_bytes(version_id))

    def proof(self, version_id: int, index: int) -> dict[str, Any]:
        """An inclusion proof of the item at ``index`` (checked on its own by ``check_proof``)."""
        view = self.version_by_id(version_id)
        return make_proof(self.manifest(version_id), view.manifest_cid, index)

    # --- withdrawals --------------------------------------------------------------------------

    def withdraw(self, who: Caller, submission_id: int, reason: str = "") -> WithdrawalPublic:
        """A contributor withdraws consent: the item leaves every later version (earlier ones stay)."""
        if len(reason) > 2000:
            raise InvalidInput("reason is longer than 2,000 characters", field="reason", limit=2000)
        with self._db.transaction() as s:
            sub = s.get(Submission, submission_id)
            if sub is None or who.id not in (sub.contributor_id, sub.task.requester_id):  # ids leak nothing
                raise NotFound(f"there is no submission {submission_id}", field="submission_id")
            if sub.contributor_id != who.id:
                raise Forbidden(f"submission {submission_id} is not yours", field="submission_id")
            if s.scalar(select(Withdrawal.id).where(Withdrawal.submission_id == submission_id)) is not None:
                raise Conflict(f"submission {submission_id} is already withdrawn", field="submission_id")
            row = Withdrawal(submission_id=submission_id, reason=reason, at=self._clock())
            s.add(row)
            s.flush()
            return withdrawal_public(row)

    # --- anchoring (datasets.anchoring) -------------------------------------------------------

    def sync(self) -> None:
        """Move every pending version one step towards DatasetRegistry (the chain follower's work)."""
        self._anchorer.sync()

    def anchor(self, version_id: int, *, timeout: float = 120) -> VersionPublic:
        """Drive a version's anchoring until it is confirmed or failed (CLI, demo and tests)."""
        return self._anchorer.anchor(version_id, timeout=timeout)


def _one_licence(licences: set[str]) -> str:
    if len(licences) == 1:
        return next(iter(licences))
    raise InvalidInput(
        f"the items carry {len(licences)} licences ({', '.join(sorted(licences))}): "
        "name one in query.licence",
        field="query.licence",
    )
