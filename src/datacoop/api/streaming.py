"""Blob bytes as an HTTP response, streamed from the store in 1 MiB blocks."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import StreamingResponse

from datacoop.storage import BlobStore

__all__ = ["CHUNK", "stream_blob"]

CHUNK = 1 << 20


def stream_blob(
    store: BlobStore, cid: str, media_type: str = "application/octet-stream"
) -> StreamingResponse:
    """A response that reads blob ``cid`` only as the client takes it (constant memory)."""

    def chunks() -> Iterator[bytes]:
        with store.open(cid) as f:
            while block := f.read(CHUNK):
                yield block

    return StreamingResponse(chunks(), media_type=media_type)
