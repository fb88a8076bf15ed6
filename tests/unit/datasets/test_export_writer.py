"""The exporters' byte movers: gathered writes, short reads and short writes."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from datacoop.datasets.export._writer import Buffer, read_into, write_parts


def _parts() -> list[Buffer]:
    """More parts than one writev takes, of every buffer kind, some empty."""
    parts: list[Buffer] = []
    for n in range(3000):
        data = bytes([n % 251]) * (n % 7)
        parts.append((bytes, bytearray, memoryview)[n % 3](data))
    return parts


def test_every_part_reaches_the_file_in_order(tmp_path: Path) -> None:
    parts = _parts()
    with (tmp_path / "out").open("wb", buffering=0) as raw:
        written = write_parts(raw.fileno(), parts)
    expected = b"".join(bytes(part) for part in parts)
    assert written == len(expected) and (tmp_path / "out").read_bytes() == expected


def test_short_writes_are_resumed_where_they_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def short_writev(
        fd: int, buffers: Sequence[Buffer]
    ) -> int:  # at most 7 bytes a call, as a full pipe might
        calls.append(len(buffers))
        return os.write(fd, b"".join(bytes(b) for b in buffers)[:7])

    monkeypatch.setattr(os, "writev", short_writev)
    parts = _parts()
    with (tmp_path / "out").open("wb", buffering=0) as raw:
        write_parts(raw.fileno(), parts)
    assert (tmp_path / "out").read_bytes() == b"".join(bytes(part) for part in parts)
    assert max(calls) <= 1024 and len(calls) > 1000


class _ReadOnly:
    """A stream with read() only (no readinto), giving at most 5 bytes a call."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        piece, self._data = self._data[: min(size, 5)], self._data[min(size, 5) :]
        return piece


def test_a_region_is_filled_from_short_reads_with_or_without_readinto() -> None:
    data = os.urandom(100)
    for stream in (_ReadOnly(data), io.BufferedReader(io.BytesIO(data))):
        region = memoryview(bytearray(64))
        assert read_into(stream, region) == 64 and region.tobytes() == data[:64]  # type: ignore[arg-type]
        assert read_into(stream, region) == 36 and region[:36].tobytes() == data[64:]  # type: ignore[arg-type]
        assert read_into(stream, region) == 0  # type: ignore[arg-type]
