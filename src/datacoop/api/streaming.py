"""Stored bytes as an HTTP response: streamed from the store in 1 MiB blocks, never rendered by a browser.

Every route that serves bytes someone uploaded (review content, samples, exports, deliveries,
manifests) sends :func:`download_headers`: ``nosniff`` so a browser never reads an upload as HTML or
script, and ``attachment`` so it saves the file rather than opening it on the node's origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from fastapi.responses import StreamingResponse

__all__ = ["CHUNK", "BlobReader", "download_headers", "stream_blob"]

CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class BlobReader(Protocol):
    """What streaming needs of a blob store: open a blob by CID (the node's ``BlobStore`` is one)."""

    def open(self, cid: str) -> BinaryIO: ...


def download_headers(filename: str) -> dict[str, str]:
    """``X-Content-Type-Options: nosniff`` and ``Content-Disposition: attachment`` for ``filename``."""
    safe = _UNSAFE.sub("_", filename)[:200] or "download"
    return {"X-Content-Type-Options": "nosniff", "Content-Disposition": f'attachment; filename="{safe}"'}


def stream_blob(
    store: BlobReader, cid: str, media_type: str = "application/octet-stream"
) -> StreamingResponse:
    """A response that reads blob ``cid`` only as the client takes it (constant memory)."""

    def chunks() -> Iterator[bytes]:
        with store.open(cid) as f:
            while block := f.read(CHUNK):
                yield block

    return StreamingResponse(chunks(), media_type=media_type, headers=download_headers(cid))
