"""The blob store port: immutable, content-addressed bytes named by their CIDv1.

A store receives bytes through a :class:`BlobWriter` that hashes while it
writes (constant memory for any size), refuses to grow past ``max_bytes`` and
publishes the blob under its CID atomically on :meth:`BlobWriter.commit`.
A blob that already exists is not written again (puts are idempotent).
Reads verify nothing by default; :meth:`BlobStore.verify` recomputes the CID.

Implementations: :class:`~datacoop.storage.local.LocalBlobStore` (a directory)
and :class:`~datacoop.storage.s3.S3BlobStore` (any S3-compatible API).
Both pass the same conformance tests (``tests/unit/storage/``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

__all__ = ["BlobInfo", "BlobStore", "BlobWriter"]


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a store knows about one blob."""

    cid: str
    size: int
    profile: str
    stored_at: datetime  # when the store published it (UTC); the GC grace window reads this


class BlobWriter(abc.ABC):
    """One blob being written. Use as a context manager: leaving it without commit aborts."""

    @abc.abstractmethod
    def write(self, data: bytes | memoryview) -> None:
        """Append bytes; raises TooLarge(field='body') past the store's max_bytes."""

    @abc.abstractmethod
    def commit(self, expected_cid: str | None = None) -> BlobInfo:
        """Publish under the computed CID; IntegrityError(field='cid') if it differs from expected_cid."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Drop what was written. Safe to call twice or after commit (then it does nothing)."""

    @property
    @abc.abstractmethod
    def bytes_written(self) -> int: ...

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class BlobStore(abc.ABC):
    """Immutable blobs named by CIDv1."""

    @abc.abstractmethod
    def writer(self, *, max_bytes: int, profile: str | None = None) -> BlobWriter:
        """A writer for a new blob; profile defaults to the store's configured CID profile."""

    def put(self, chunks: Iterable[bytes], *, max_bytes: int, expected_cid: str | None = None) -> BlobInfo:
        """Write a whole blob from an iterable of chunks."""
        with self.writer(max_bytes=max_bytes) as w:
            for chunk in chunks:
                w.write(chunk)
            return w.commit(expected_cid)

    @abc.abstractmethod
    def stat(self, cid: str) -> BlobInfo:
        """Size, profile and time of a blob; NotFound(field='cid') if absent."""

    def exists(self, cid: str) -> bool:
        from datacoop.errors import NotFound

        try:
            self.stat(cid)
        except NotFound:
            return False
        return True

    @abc.abstractmethod
    def open(self, cid: str) -> BinaryIO:
        """A readable binary stream of the blob; NotFound(field='cid') if absent."""

    def iter_bytes(self, cid: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with self.open(cid) as f:
            while chunk := f.read(chunk_size):
                yield chunk

    @abc.abstractmethod
    def delete(self, cid: str) -> None:
        """Remove a blob (garbage collection only); absent blobs are ignored."""

    @abc.abstractmethod
    def list(self) -> Iterator[BlobInfo]:
        """Every published blob (order unspecified)."""

    def verify(self, cid: str) -> bool:
        """Recompute the blob's CID from its bytes with its recorded profile."""
        from datacoop.cid import CidBuilder, get_profile

        info = self.stat(cid)
        builder = CidBuilder(get_profile(info.profile))
        for chunk in self.iter_bytes(cid):
            builder.update(chunk)
        return builder.finish() == cid

    def health(self) -> dict[str, object]:
        """A small status dict for GET /v1/health; raises Unavailable when the store cannot be reached."""
        return {"kind": type(self).__name__}
