"""The writer both stores share: hash while spooling to a local file, publish on commit.

Every store writes the bytes to a local file first (the local store renames it
into place, the S3 store uploads it), so size limits, hashing, the
expected-CID check and abort-on-exit are written once here. A subclass only
says how to publish the finished file and how to drop it.
"""

from __future__ import annotations

import abc
from typing import BinaryIO

from datacoop.cid import CidBuilder, Profile
from datacoop.errors import IntegrityError, TooLarge
from datacoop.storage.base import BlobInfo, BlobWriter

__all__ = ["SpoolingWriter"]


class SpoolingWriter(BlobWriter):
    """A :class:`BlobWriter` over a local spool file.

    Args:
        spool: an open, writable binary file the bytes go to.
        profile: the CID profile the bytes are hashed with.
        max_bytes: the most bytes this blob may have.
    """

    def __init__(self, spool: BinaryIO, *, profile: Profile, max_bytes: int) -> None:
        self._spool = spool
        self._profile = profile
        self._builder = CidBuilder(profile)
        self._max_bytes = max_bytes
        self._written = 0
        self._done = False  # committed or aborted: the spool is gone either way
        self._result: BlobInfo | None = None

    @property
    def bytes_written(self) -> int:
        return self._written

    def write(self, data: bytes | memoryview) -> None:
        """Append bytes; aborts and raises TooLarge(field='body') past ``max_bytes``."""
        self._ensure_open()
        size = memoryview(data).nbytes
        if self._written + size > self._max_bytes:
            self.abort()  # nothing of a refused upload may stay on disk
            raise TooLarge("body", self._max_bytes)
        self._builder.update(data)
        self._spool.write(data)
        self._written += size

    def commit(self, expected_cid: str | None = None) -> BlobInfo:
        """Publish under the computed CID; a second call returns the first result."""
        if self._result is not None:
            return self._result
        self._ensure_open()
        cid = self._builder.finish()
        if expected_cid is not None and cid != expected_cid:
            self.abort()
            raise IntegrityError(f"the bytes hash to {cid}, not to the expected {expected_cid}", field="cid")
        try:
            self._spool.flush()
            self._result = self._publish(cid)
        finally:
            self.abort()  # releases the spool; after a successful publish there is nothing left to drop
        return self._result

    def abort(self) -> None:
        """Close and drop the spool file. Safe to call twice or after commit."""
        if self._done:
            return
        self._done = True
        self._spool.close()
        self._discard()

    def _ensure_open(self) -> None:
        if self._done:
            raise ValueError("this blob writer is already committed or aborted")

    @abc.abstractmethod
    def _publish(self, cid: str) -> BlobInfo:
        """Make the flushed spool visible under ``cid`` (idempotent) and describe it."""

    @abc.abstractmethod
    def _discard(self) -> None:
        """Remove what is left of the (closed) spool; must tolerate it being gone."""
