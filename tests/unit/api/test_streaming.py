"""Streaming reads through any BlobReader: the API needs nothing of a store but ``open``."""

from __future__ import annotations

import asyncio
import io
from typing import BinaryIO

from datacoop.api.streaming import CHUNK, stream_blob


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.opened = data, 0

    def open(self, cid: str) -> BinaryIO:
        self.opened += 1
        return io.BytesIO(self.data)


async def _body(chunks: object) -> list[bytes]:
    return [c async for c in chunks]  # type: ignore[attr-defined]


def test_a_blob_is_read_only_as_the_client_takes_it() -> None:
    reader = _Reader(b"x" * (CHUNK + 3))
    response = stream_blob(reader, "bafy/../evil")
    assert reader.opened == 0  # nothing read before the response is sent
    blocks = asyncio.run(_body(response.body_iterator))
    assert [len(b) for b in blocks] == [CHUNK, 3]
    assert response.headers["content-disposition"] == 'attachment; filename="bafy_.._evil"'
    assert response.headers["x-content-type-options"] == "nosniff"
