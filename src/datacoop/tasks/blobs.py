"""Blobs: streamed uploads into the store, and garbage collection of unreferenced ones.

The blob is written (and fsynced) before its row is committed, so no row ever
names a missing blob; a crash in between leaves an orphan that GC removes
after the grace window. Uploads are content-addressed, so a retry is idempotent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy import String, cast, exists, select
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import Blob, DatasetVersion, Prescreen, StageResultRow, Submission
from datacoop.errors import InvalidInput, NotFound, TooLarge
from datacoop.identity.schemas import Caller
from datacoop.storage import BlobInfo, BlobStore, BlobWriter
from datacoop.tasks.schemas import BlobPublic

__all__ = ["BlobService", "GcReport"]

BATCH = 1 << 20  # hand the store ~1 MiB at a time: few thread hops, bounded memory


@dataclass
class GcReport:
    scanned: int = 0
    kept_referenced: int = 0
    kept_young: int = 0
    deleted: list[str] = field(default_factory=list)
    freed_bytes: int = 0


class BlobService:
    def __init__(self, db: Database, store: BlobStore, *, max_bytes: int, clock: Clock = utc_now) -> None:
        self._db, self._store, self.max_bytes, self._clock = db, store, max_bytes, clock

    async def upload(
        self, chunks: AsyncIterator[bytes], uploader: Caller, *, declared_length: int | None = None
    ) -> BlobPublic:
        """Stream a request body into the store, then record it. Memory stays bounded at any size."""
        if declared_length is not None and declared_length > self.max_bytes:
            raise TooLarge("body", self.max_bytes)
        writer = self._store.writer(max_bytes=self.max_bytes)
        try:
            info = await self._pump(chunks, writer)
        finally:
            await anyio.to_thread.run_sync(writer.abort)
        return await anyio.to_thread.run_sync(self._record, info, uploader)

    @staticmethod
    async def _pump(chunks: AsyncIterator[bytes], writer: BlobWriter) -> BlobInfo:
        pending: list[bytes] = []
        size = total = 0
        async for chunk in chunks:
            pending.append(chunk)
            size += len(chunk)
            total += len(chunk)
            if size >= BATCH:
                await anyio.to_thread.run_sync(writer.write, b"".join(pending))
                pending, size = [], 0
        if total == 0:  # a missing body and an empty one look alike; neither is content
            raise InvalidInput("the body is empty: a blob holds at least 1 byte", field="body", limit=1)
        if pending:
            await anyio.to_thread.run_sync(writer.write, b"".join(pending))
        return await anyio.to_thread.run_sync(writer.commit)

    def put_file_bytes(self, chunks: list[bytes], uploader: Caller | None) -> BlobPublic:
        """Store and record a blob from memory (CLI, demo and tests)."""
        return self._record(self._store.put(chunks, max_bytes=self.max_bytes), uploader)

    def _record(self, info: BlobInfo, uploader: Caller | None) -> BlobPublic:
        with self._db.transaction() as s:
            row = s.get(Blob, info.cid)
            if row is None:
                row = Blob(
                    cid=info.cid,
                    size=info.size,
                    profile=info.profile,
                    uploader_id=uploader.id if uploader else None,
                    created_at=self._clock(),
                )
                s.add(row)
            return BlobPublic(cid=row.cid, size=row.size, profile=row.profile, created_at=row.created_at)

    def get(self, cid: str) -> BlobPublic:
        with self._db.transaction() as s:
            row = s.get(Blob, cid)
            if row is None:
                raise NotFound(f"no blob {cid} was uploaded here", field="cid")
            return BlobPublic(cid=row.cid, size=row.size, profile=row.profile, created_at=row.created_at)

    def collect_garbage(self, grace: timedelta, *, dry_run: bool = False) -> GcReport:
        """Delete blobs no submission names that are older than ``grace`` (their rows too)."""
        report = GcReport()
        cutoff = self._clock() - grace
        for info in self._store.list():
            report.scanned += 1
            if info.stored_at > cutoff:
                report.kept_young += 1  # may belong to an upload whose submission is still on its way
                continue
            if self._is_referenced(info.cid):
                report.kept_referenced += 1
                continue
            if not dry_run and not self._delete(info.cid, cutoff):
                report.kept_young += 1
                continue
            report.deleted.append(info.cid)
            report.freed_bytes += info.size
        return report

    def _is_referenced(self, cid: str) -> bool:
        with self._db.transaction() as s:
            return _referenced(s, cid)

    def _delete(self, cid: str, cutoff: datetime) -> bool:
        # Re-read the store's time: a re-upload since the listing renews it and saves the blob.
        if self._store.stat(cid).stored_at > cutoff:
            return False
        # Row first, in a transaction that re-checks references, then the bytes:
        # a submission committed meanwhile makes the delete fail on its foreign key.
        with self._db.transaction() as s:
            if _referenced(s, cid):
                return False
            row = s.get(Blob, cid)
            if row is not None:
                s.delete(row)
        self._store.delete(cid)
        return True


def _referenced(s: Session, cid: str) -> bool:
    """Whether any row names the blob: a submission, its scrubbed copy, a stage's artifact, a manifest."""
    checks = (
        exists().where(Submission.cid == cid),
        exists().where(Prescreen.scrubbed_cid == cid),
        exists().where(DatasetVersion.manifest_cid == cid),
        # blurred or redacted copies live in a stage's artifacts (JSON); a CID is unique text
        exists().where(cast(StageResultRow.artifacts, String).contains(cid)),
    )
    return any(s.scalar(select(check)) for check in checks)
